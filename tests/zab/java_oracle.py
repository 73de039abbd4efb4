"""Apache ZooKeeper's election classes as an oracle: compiles and drives ElectionOracle.java.

`ElectionOracle` (see its Javadoc) calls FastLeaderElection.buildMsg, QuorumMaj.toString and
QuorumCnxManager.InitialMessage.parse and answers one line per command; `run_oracle` sends a
whole batch to one JVM. The classes are compiled once per source digest into the system temp
directory (outside the repository), renamed into place so concurrent runs never see half a build.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.jute.java_oracle import JVM_OPTIONS, ZOOKEEPER_JAR, OracleError, missing_java_tools

JAVA_SOURCE = Path(__file__).resolve().parent / "java" / "ElectionOracle.java"
MAIN_CLASS = "org.apache.zookeeper.server.quorum.ElectionOracle"
JAVAC_TIMEOUT_S = 120.0
ORACLE_TIMEOUT_S = 60.0

__all__ = ["OracleError", "missing_java_tools", "run_oracle"]


def _classes_dir() -> Path:
    digest = hashlib.sha256(
        JAVA_SOURCE.read_bytes() + ZOOKEEPER_JAR.resolve().read_bytes()
    ).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / f"zkpy-election-oracle-{digest}"
    if target.is_dir():
        return target
    staging = Path(tempfile.mkdtemp(prefix="zkpy-election-oracle-build-"))
    try:
        completed = subprocess.run(
            [
                "javac",
                "-encoding",
                "UTF-8",
                "--release",
                "17",
                "-cp",
                str(ZOOKEEPER_JAR),
                "-d",
                str(staging),
                str(JAVA_SOURCE),
            ],
            capture_output=True,
            text=True,
            timeout=JAVAC_TIMEOUT_S,
        )
        if completed.returncode != 0:
            raise OracleError(f"javac failed:\n{completed.stdout}{completed.stderr}")
        try:
            os.rename(staging, target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def run_oracle(commands: list[str]) -> dict[str, tuple[bool, str]]:
    """Runs a batch of commands (`KIND label args...`); maps each label to (ok, answer)."""
    classes = _classes_dir()
    completed = subprocess.run(
        [
            "java",
            *JVM_OPTIONS,
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=error",
            "-cp",
            f"{classes}:{ZOOKEEPER_JAR}",
            MAIN_CLASS,
        ],
        input="\n".join(commands) + "\n",
        capture_output=True,
        text=True,
        timeout=ORACLE_TIMEOUT_S,
    )
    if completed.returncode != 0:
        raise OracleError(
            f"ElectionOracle exited with {completed.returncode}:\n{completed.stderr[-4000:]}"
        )
    answers: dict[str, tuple[bool, str]] = {}
    for line in completed.stdout.splitlines():
        label, status, *rest = line.split(" ", 2)
        answers[label] = (status == "OK", rest[0] if rest else "")
    if len(answers) != len(commands):
        raise OracleError(
            f"{len(commands)} commands but {len(answers)} answers:\n{completed.stderr[-2000:]}"
        )
    return answers
