"""Apache ZooKeeper's Jute classes as an oracle: compile and drive tests/jute/java/JuteOracle.

`JuteOracle` (see its Javadoc) builds records with Apache's own classes from a value notation,
serializes and deserializes them with BinaryOutputArchive/BinaryInputArchive, and answers one line
per command. `run_oracle` sends a whole batch of commands to one JVM, so the golden tests cost one
JVM start however many records they check.

The program is compiled with `javac` into `tests/jute/java/classes/<digest>/` (git-ignored), where
the digest covers the source and the jars: an unchanged tree reuses the classes. Compilation goes
to a private directory that is renamed into place, so concurrent test runs never see half a build.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tests.jute.schema import is_record
from zkpy.jute.codec import BOOL, BUFFER, INT, LONG, USTRING, Vector

JAVA_DIR = Path(__file__).resolve().parent / "java"
CLASSES_ROOT = JAVA_DIR / "classes"
JUTE_JAR = Path("/usr/share/java/zookeeper-jute.jar")
ZOOKEEPER_JAR = Path("/usr/share/java/zookeeper.jar")
JAVAC_TIMEOUT_S = 120.0
ORACLE_TIMEOUT_S = 60.0
# The oracle runs one short batch: skip the optimizing JIT and keep the heap small.
JVM_OPTIONS = ("-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


class OracleError(RuntimeError):
    """The Java oracle could not be built or did not answer."""


def missing_java_tools() -> str | None:
    """Why the oracle cannot run here, or None when it can."""
    for tool in ("javac", "java"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    for jar in (JUTE_JAR, ZOOKEEPER_JAR):
        if not jar.exists():
            return f"{jar} is missing (Debian package libzookeeper-java)"
    return None


def _classpath(*extra: Path) -> str:
    return ":".join(str(p) for p in (*extra, JUTE_JAR, ZOOKEEPER_JAR))


def _digest(sources: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in [*sources, JUTE_JAR.resolve(), ZOOKEEPER_JAR.resolve()]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def compiled_classes_dir() -> Path:
    """The directory holding the compiled oracle, compiling it first if the sources changed."""
    sources = sorted(JAVA_DIR.glob("*.java"))
    target = CLASSES_ROOT / _digest(sources)
    if target.is_dir():
        return target
    CLASSES_ROOT.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=CLASSES_ROOT))
    try:
        completed = subprocess.run(
            ["javac", "-encoding", "UTF-8", "--release", "17", "-Xlint:all,-path",
             "-cp", _classpath(), "-d", str(staging), *map(str, sources)],
            capture_output=True, text=True, timeout=JAVAC_TIMEOUT_S,
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
    for entry in CLASSES_ROOT.iterdir():
        if entry != target and entry.is_dir() and not entry.name.startswith(".build-"):
            shutil.rmtree(entry, ignore_errors=True)
    return target


def run_oracle(commands: list[str]) -> dict[str, tuple[bool, str]]:
    """Runs a batch of oracle commands; maps each label to (ok, answer)."""
    classes = compiled_classes_dir()
    completed = subprocess.run(
        ["java", *JVM_OPTIONS, "-cp", _classpath(classes), "JuteOracle"],
        input="\n".join(commands) + "\n", capture_output=True, text=True,
        timeout=ORACLE_TIMEOUT_S,
    )
    if completed.returncode != 0:
        raise OracleError(
            f"JuteOracle exited with {completed.returncode}:\n{completed.stderr[-4000:]}"
        )
    answers: dict[str, tuple[bool, str]] = {}
    for line in completed.stdout.splitlines():
        label, status, answer = line.split(" ", 2)
        answers[label] = (status == "OK", answer)
    if len(answers) != len(commands):
        raise OracleError(f"{len(commands)} commands but {len(answers)} answers")
    return answers


def hex_or_dash(data: bytes) -> str:
    return data.hex() or "-"


def value_tokens(kind: Any, value: Any) -> list[str]:
    """`value` of Jute type `kind` in JuteOracle's value notation."""
    if value is None:
        return ["N"]
    if isinstance(kind, Vector):
        tokens = [f"V{len(value)}"]
        for item in value:
            tokens += value_tokens(kind.item, item)
        return tokens
    if is_record(kind):
        tokens = [f"R{kind.__name__}", str(len(kind.FIELDS))]
        for name, field_kind in kind.FIELDS:
            tokens += [name, *value_tokens(field_kind, getattr(value, name))]
        return tokens
    if kind == INT:
        return [f"I{value}"]
    if kind == LONG:
        return [f"L{value}"]
    if kind == BOOL:
        return ["Z1" if value else "Z0"]
    if kind == BUFFER:
        return [f"B{value.hex()}"]
    if kind == USTRING:
        return [f"S{value.encode('utf-16-be', 'surrogatepass').hex()}"]
    raise TypeError(f"unknown Jute kind {kind!r}")


def encode_command(label: str, record: Any, extra_fields: tuple[tuple[str, str], ...] = ()) -> str:
    """ENC command for `record`; `extra_fields` are (name, token) pairs zkpy's record lacks."""
    tokens = value_tokens(type(record), record)
    tokens[1] = str(len(type(record).FIELDS) + len(extra_fields))
    for name, token in extra_fields:
        tokens += [name, token]
    return f"ENC {label} {' '.join(tokens)}"


def decode_command(label: str, record_name: str, data: bytes) -> str:
    return f"DEC {label} {record_name} {hex_or_dash(data)}"


def string_command(label: str, body: bytes) -> str:
    """STR command for a ustring whose length prefix says len(body)."""
    return f"STR {label} {hex_or_dash(len(body).to_bytes(4, 'big') + body)}"


def signature_command(label: str, record_name: str) -> str:
    return f"SIG {label} {record_name}"
