"""Build and run the Java load generator (bench/java/LoadGen.java) against one server.

LoadGen is the stock Apache ZooKeeper Java client driven through its asynchronous API; the comment
at the top of LoadGen.java explains how it keeps requests in flight and what it measures
(FanOut.java: the watch fan-out, TreeLoad.java: the durability tree). This
module compiles it when its sources change, describes workloads, and turns one run into the dict
of LoadGen's JSON line. A failed run never raises: it comes back as {"error": ...} so that a
side-by-side run can carry on with the next row.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

JAVA_DIR = Path(__file__).resolve().parent / "java"
CLASSES_DIR = JAVA_DIR / "classes"
COMPILED_STAMP = CLASSES_DIR / ".compiled"
ZOOKEEPER_JAR = Path("/usr/share/java/zookeeper.jar")
SLF4J_SIMPLE_JAR = Path("/usr/share/java/slf4j-simple.jar")
# One GC thread and a fixed small heap: the generator shares the machine's cores with the server.
JVM_OPTIONS = (
    "-Xms256m",
    "-Xmx256m",
    "-XX:+UseSerialGC",
    "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
)
# Beyond warm-up and the measured window: JVM start, sessions, znode preparation, draining.
RUN_SLACK_S = 90


@dataclass(frozen=True)
class Workload:
    kind: str  # read | write | mixed | churn | fanout
    read_pct: int = 0

    @classmethod
    def parse(cls, text: str) -> Workload:
        """`read`, `write`, `mixed` (90 % reads), `mixed:PCT`, `churn` or `fanout`."""
        kind, _, pct = text.strip().partition(":")
        if kind == "read" and not pct:
            return cls("read", 100)
        if kind in ("write", "churn", "fanout") and not pct:
            return cls(kind, 0)
        if kind == "mixed":
            read_pct = int(pct) if pct else 90
            if not 0 <= read_pct <= 100:
                raise ValueError(f"read percentage out of range in {text!r}")
            return cls("mixed", read_pct)
        raise ValueError(f"unknown workload {text!r} (read, write, mixed, mixed:PCT, churn, fanout)")

    @property
    def label(self) -> str:
        if self.kind == "mixed":
            return f"read {self.read_pct}% / write {100 - self.read_pct}%"
        return {"read": "read 100%", "write": "write 100%", "churn": "ephemeral create+delete",
                "fanout": "watch fan-out"}[self.kind]

    @property
    def slug(self) -> str:
        """For file names."""
        return f"mixed{self.read_pct}" if self.kind == "mixed" else self.kind

    @property
    def writes(self) -> bool:
        return self.read_pct < 100

    def loadgen_args(self) -> list[str]:
        return ["--workload", self.kind, "--read-pct", str(self.read_pct)]


@dataclass(frozen=True)
class LoadSettings:
    seconds: int = 10
    warmup_s: int = 3
    sessions: int = 8
    outstanding: int = 100
    value_size_bytes: int = 1024
    znodes: int = 1000
    watchers: int = 1000
    fanout_rounds: int = 20
    fanout_warmup_rounds: int = 2

    def loadgen_args(self, workload: Workload) -> list[str]:
        if workload.kind == "fanout":
            return [
                "--watchers", str(self.watchers),
                "--rounds", str(self.fanout_rounds),
                "--warmup-rounds", str(self.fanout_warmup_rounds),
                "--value-size", str(self.value_size_bytes),
            ]
        return [
            "--seconds", str(self.seconds),
            "--warmup", str(self.warmup_s),
            "--sessions", str(self.sessions),
            "--outstanding", str(self.outstanding),
            "--value-size", str(self.value_size_bytes),
            "--znodes", str(self.znodes),
        ]

    def timeout_s(self, workload: Workload) -> float:
        """How long one LoadGen run may take before it counts as hung."""
        if workload.kind == "fanout":
            # connecting and closing every watcher, and at most a few seconds per round
            return RUN_SLACK_S + 0.1 * self.watchers + 5.0 * (self.fanout_rounds + self.fanout_warmup_rounds)
        return RUN_SLACK_S + self.warmup_s + self.seconds


def sources() -> list[Path]:
    return sorted(JAVA_DIR.glob("*.java"))


def ensure_compiled() -> None:
    """Compile LoadGen into bench/java/classes unless the classes are newer than every source."""
    stamp_mtime = COMPILED_STAMP.stat().st_mtime if COMPILED_STAMP.exists() else -1.0
    if all(src.stat().st_mtime < stamp_mtime for src in sources()):
        return
    CLASSES_DIR.mkdir(parents=True, exist_ok=True)
    for old in CLASSES_DIR.rglob("*.class"):
        old.unlink()
    # -implicit:none: the findbugs-annotations jar on zookeeper.jar's manifest class path ships
    # sources, which javac would otherwise compile into our output directory.
    command = [
        "javac", "-Xlint:all,-path", "-implicit:none",
        "-cp", str(ZOOKEEPER_JAR), "-d", str(CLASSES_DIR),
        *map(str, sources()),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"javac failed:\n{done.stdout}{done.stderr}")
    COMPILED_STAMP.touch()


def classpath() -> str:
    return ":".join(str(p) for p in (CLASSES_DIR, ZOOKEEPER_JAR, SLF4J_SIMPLE_JAR))


def run_loadgen(
    connect: str,
    workload: Workload,
    settings: LoadSettings,
    server_pids: list[int],
    log_path: Path,
) -> dict[str, object]:
    """Run LoadGen once against `connect` (one server, or several separated by commas: the
    sessions are then spread over them); its stderr goes to log_path. Returns its JSON line or
    {"error": ...}."""
    command = [
        "java", *JVM_OPTIONS, "-cp", classpath(), "LoadGen",
        "--connect", connect,
        *workload.loadgen_args(),
        *settings.loadgen_args(workload),
        "--clock-ticks", str(os.sysconf("SC_CLK_TCK")),
    ]
    if server_pids:
        command += ["--server-pid", ",".join(map(str, server_pids))]
    timeout_s = settings.timeout_s(workload)
    with open(log_path, "wb") as log:
        try:
            done = subprocess.run(
                command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, timeout=timeout_s
            )
        except subprocess.TimeoutExpired:
            return {"error": f"load generator did not finish within {timeout_s:.0f} s (log: {log_path})"}
    result = parse_result(done.stdout.decode("utf-8", "replace"))
    if result is None:
        return {"error": f"load generator exited with {done.returncode} without a result (log: {log_path})"}
    return result


def parse_result(stdout: str) -> dict[str, object] | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            try:
                parsed = json.loads(line)
            except json.JSONDecodeError:
                return None
            return parsed if isinstance(parsed, dict) else None
    return None


def java_version() -> str:
    done = subprocess.run(["java", "-version"], capture_output=True, text=True)
    match = re.search(r'version "([^"]+)"', done.stderr)
    return match.group(1) if match else done.stderr.strip().splitlines()[0]
