"""Compile and run the Java interop programs in tests/java against a server on loopback.

The programs use Debian's stock Apache ZooKeeper client (`/usr/share/java/zookeeper.jar`, which
finds its own dependencies through its manifest). They are compiled with `javac` into
`tests/java/classes/<digest>/`, where the digest covers the sources and the jar, so a change to
either recompiles and an unchanged tree reuses the classes. Compilation goes to a private
temporary directory that is renamed into place, so parallel test processes never see a half
written class directory.

`run_java_scenario` runs `ZkScenario` (see its Javadoc) and returns its normalized transcript;
`run_zkcli` runs the stock command line client `ZooKeeperMain` for one command.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
JAVA_SOURCE_DIR = REPO_ROOT / "tests" / "java"
CLASSES_ROOT = JAVA_SOURCE_DIR / "classes"
ZOOKEEPER_JAR = Path("/usr/share/java/zookeeper.jar")
SLF4J_NOP_JAR = Path("/usr/share/java/slf4j-nop.jar")
SCENARIO_TIMEOUT_S = 120.0
ZKCLI_TIMEOUT_S = 60.0
ZKCLI_CONNECT_TIMEOUT_MS = 10_000
# The client JVM only runs a short script: skip the optimizing JIT and keep the heap small.
JVM_OPTIONS = ("-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


class JavaClientError(RuntimeError):
    """The Java program could not be built or did not finish."""


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output_lines(self) -> list[str]:
        """stdout without the connection banner and the SyncConnected event zkCli prints first."""
        lines = self.stdout.splitlines()
        marker = "WatchedEvent state:SyncConnected type:None path:null"
        if marker in lines:
            lines = lines[lines.index(marker) + 1 :]
        return [line for line in lines if line.strip()]


def missing_java_tools() -> str | None:
    """Why the Java interop tests cannot run here, or None when they can."""
    for tool in ("javac", "java"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    for jar in (ZOOKEEPER_JAR, SLF4J_NOP_JAR):
        if not jar.exists():
            return f"{jar} is missing (Debian packages libzookeeper-java / libslf4j-java)"
    return None


def _sources() -> list[Path]:
    return sorted(JAVA_SOURCE_DIR.glob("*.java"))


def _sources_digest(sources: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in [*sources, ZOOKEEPER_JAR.resolve()]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def compiled_classes_dir() -> Path:
    """The directory holding the compiled Java programs, compiling them first if needed."""
    sources = _sources()
    target = CLASSES_ROOT / _sources_digest(sources)
    if target.is_dir():
        return target
    CLASSES_ROOT.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=CLASSES_ROOT))
    staging.chmod(0o755)
    try:
        completed = subprocess.run(
            [
                "javac",
                "-encoding",
                "UTF-8",
                "--release",
                "17",
                "-Xlint:all,-path",
                "-cp",
                str(ZOOKEEPER_JAR),
                "-d",
                str(staging),
                *map(str, sources),
            ],
            capture_output=True,
            text=True,
            timeout=SCENARIO_TIMEOUT_S,
        )
        if completed.returncode != 0:
            raise JavaClientError(f"javac failed:\n{completed.stdout}{completed.stderr}")
        try:
            os.rename(staging, target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _remove_stale_builds(keep=target)
    return target


def _remove_stale_builds(keep: Path) -> None:
    for entry in CLASSES_ROOT.iterdir():
        if entry != keep and entry.is_dir() and not entry.name.startswith(".build-"):
            shutil.rmtree(entry, ignore_errors=True)


def _classpath(*extra: Path) -> str:
    return ":".join(str(p) for p in (*extra, ZOOKEEPER_JAR, SLF4J_NOP_JAR))


def run_java_scenario(
    connect_string: str, timeout_s: float = SCENARIO_TIMEOUT_S, allow_incomplete: bool = False
) -> list[str]:
    """Run ZkScenario against connect_string and return its transcript lines.

    A run that does not reach its end raises JavaClientError, unless allow_incomplete is set: then
    the transcript so far is returned (ending in the program's FATAL line, or in a marker line when
    it had to be killed), which is what a differential test wants to diff.
    """
    classes = compiled_classes_dir()
    command = ["java", *JVM_OPTIONS, "-cp", _classpath(classes), "ZkScenario", connect_string]
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        partial = exc.stdout or ""
        if isinstance(partial, bytes):
            partial = partial.decode(errors="replace")
        if allow_incomplete:
            return [*partial.splitlines(), f"<<ZkScenario killed after {timeout_s} s>>"]
        raise JavaClientError(
            f"ZkScenario did not finish within {timeout_s} s; transcript so far:\n{partial}"
        ) from exc
    if completed.returncode != 0 and not allow_incomplete:
        raise JavaClientError(
            f"ZkScenario exited with {completed.returncode}; transcript:\n{completed.stdout}"
            f"\nstderr:\n{completed.stderr[-4000:]}"
        )
    return completed.stdout.splitlines()


def run_zkcli(server_address: str, *command: str, timeout_s: float = ZKCLI_TIMEOUT_S) -> CliResult:
    """Run one zkCli command (`ZooKeeperMain -server ADDRESS cmd args...`)."""
    completed = subprocess.run(
        [
            "java",
            *JVM_OPTIONS,
            "-cp",
            _classpath(),
            "org.apache.zookeeper.ZooKeeperMain",
            "-timeout",
            str(ZKCLI_CONNECT_TIMEOUT_MS),
            "-waitforconnection",
            "-server",
            server_address,
            *command,
        ],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        stdin=subprocess.DEVNULL,
    )
    return CliResult(completed.returncode, completed.stdout, completed.stderr)
