"""Apache ZooKeeper's own readers of the data directory, driven from the tests.

- `TxnLogToolkit` (3.8's replacement for LogFormatter) dumps one log file;
- `SnapshotFormatter` dumps one snapshot;
- `PersistenceOracle` (tests/persistence/java) restores a whole data directory through
  FileTxnSnapLog.restore -- checksums, digests and replay as at server start -- and prints it.

The oracle is compiled once per source/jar digest into the system temp directory.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from zkpy.datatree.digest import to_java_long

JAVA_DIR = Path(__file__).resolve().parent / "java"
JARS = [Path("/usr/share/java/zookeeper.jar"), Path("/usr/share/java/zookeeper-jute.jar")]
QUIET_LOGGING_JAR = Path("/usr/share/java/slf4j-nop.jar")
TIMEOUT_S = 120.0


def missing_tools() -> str | None:
    for tool in ("java", "javac"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    for jar in [*JARS, QUIET_LOGGING_JAR]:
        if not jar.exists():
            return f"{jar} is missing"
    return None


def _classpath(*extra: Path) -> str:
    return ":".join(str(p) for p in (*extra, *JARS, QUIET_LOGGING_JAR))


def _run(main_class: str, *args: str, classes: Path | None = None) -> subprocess.CompletedProcess[str]:
    extra = (classes,) if classes is not None else ()
    return subprocess.run(
        ["java", "-Xmx512m", "-XX:TieredStopAtLevel=1", "-cp", _classpath(*extra), main_class, *args],
        capture_output=True, text=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL, check=False,
    )


def txn_log_toolkit(log_file: Path) -> subprocess.CompletedProcess[str]:
    return _run("org.apache.zookeeper.server.persistence.TxnLogToolkit", "-d", str(log_file))


def snapshot_formatter(snapshot_file: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return _run("org.apache.zookeeper.server.SnapshotFormatter", *options, str(snapshot_file))


def _compiled_oracle() -> Path:
    source = JAVA_DIR / "PersistenceOracle.java"
    digest = hashlib.sha256(source.read_bytes())
    for jar in JARS:
        digest.update(jar.resolve().read_bytes())
    target = Path(tempfile.gettempdir()) / f"zkpy-persistence-oracle-{digest.hexdigest()[:16]}"
    if (target / "PersistenceOracle.class").exists():
        return target
    staging = Path(tempfile.mkdtemp(prefix="zkpy-oracle-build-"))
    completed = subprocess.run(
        ["javac", "-encoding", "UTF-8", "--release", "17", "-cp", _classpath(), "-d", str(staging), str(source)],
        capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"javac failed:\n{completed.stdout}{completed.stderr}")
    try:
        os.rename(staging, target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another run compiled it first
    return target


@dataclass
class OracleNode:
    stat: tuple[int, ...]  # czxid mzxid ctime mtime version cversion aversion ephemeralOwner pzxid
    data: bytes | None
    acl: list[tuple[int, str, str]]


@dataclass
class OracleTree:
    zxid: int
    digest: int
    snapshot_zxid: int = -1
    mismatches: list[int] = field(default_factory=list)
    sessions: dict[int, int] = field(default_factory=dict)
    nodes: dict[str, OracleNode] = field(default_factory=dict)


def restore_with_apache(data_log_dir: Path, data_dir: Path) -> OracleTree:
    """What Apache ZooKeeper loads from these directories (the parents of version-2)."""
    completed = _run("PersistenceOracle", str(data_log_dir), str(data_dir), classes=_compiled_oracle())
    if completed.returncode != 0:
        raise RuntimeError(f"Apache ZooKeeper could not restore {data_dir}:\n{completed.stderr}")
    result = OracleTree(0, 0)
    for line in completed.stdout.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "zxid":
            result.zxid = int(rest, 16)
        elif kind == "snapshot":
            result.snapshot_zxid = to_java_long(int(rest, 16))
        elif kind == "digest":
            result.digest = int(rest)
        elif kind == "mismatch":
            result.mismatches.append(int(rest, 16))
        elif kind == "session":
            session_id, timeout_ms = rest.split(" ")
            result.sessions[int(session_id)] = int(timeout_ms)
        elif kind == "node":
            fields = rest.split(" ")
            path = base64.b64decode(fields[0]).decode("utf-8")
            data = None if fields[10] == "-" else base64.b64decode(fields[10])
            acl = []
            for entry in filter(None, fields[11].split(",")):
                perms, scheme, ident = entry.split(":")
                acl.append((int(perms), scheme, base64.b64decode(ident).decode("utf-8")))
            result.nodes[path] = OracleNode(tuple(int(v) for v in fields[1:10]), data, acl)
    return result
