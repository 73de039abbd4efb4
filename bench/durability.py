"""The durability row (znodes-1m): a large tree, then memory, snapshot time and restart time.

Theory of operation, for one server at a time, on a fresh data directory:
1. load: LoadGen's `populate` creates `znodes` leaves under parents of `fanout` children with many
   async creates in flight (bench/java/TreeLoad.java). `srvr` then gives the node count and the
   zxid Z that the full tree reached.
2. memory: once no snapshot is running any more, a settle of a few seconds with no load (no GC is
   forced: what an operator would see), then VmRSS and VmHWM from /proc/<pid>/status.
3. snapshot: both servers roll the log and snapshot after a randomised share of snapCount txns,
   so LoadGen's `touch` (setData on random leaves) writes until a snapshot named with a zxid >= Z
   appears in the data directory, i.e. a snapshot of the full tree has started; its stdin is then
   closed, the writes stop, and the snapshot finishes on an idle server. Its duration is the
   server's own figure from its log: Apache ZooKeeper's "Snapshotting: 0x<zxid> to <file>"
   followed by "Snapshot taken in N ms" on the same thread, zkpy's "snapshot taken ... took_ms=N
   zxid=0x<zxid>".
4. restart: kill -9, start again on the same data directory, and time from starting the process
   until `srvr` reports the full node count again.
Every phase also records the CPU used by the server and by everything else on the machine, so a
disturbed measurement shows. A phase that fails ends the scenario; what was measured before it is
kept and the error says where it stopped.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.loadgen import JVM_OPTIONS, LoadSettings, classpath, parse_result
from bench.machine import busy_ticks, process_cpu_ticks, ticks_to_pct
from tests.support.servers import ServerProcess, four_letter_word

POPULATE_TIMEOUT_S = 3600
# Longest `touch` needs to push a server past snapCount (default 100,000 txns).
TOUCH_MAX_S = 900
SNAPSHOT_TIMEOUT_S = 1800
RESTART_TIMEOUT_S = 1800
SETTLE_S = 5.0
POLL_S = 0.05
SNAPSHOT_FILE = re.compile(r"^snapshot\.([0-9a-f]+)")
APACHE_SNAPSHOT_START = re.compile(
    r"^\[(?P<thread>[^\]]+)\] INFO \S+ - Snapshotting: 0x(?P<zxid>[0-9a-f]+) to "
)
APACHE_SNAPSHOT_DONE = re.compile(r"^\[(?P<thread>[^\]]+)\] INFO \S+ - Snapshot taken in (?P<ms>\d+) ms")
APACHE_SNAPSHOT_LOADED = re.compile(r"Snapshot loaded in (?P<ms>\d+) ms")
APACHE_SNAPSHOT_SKIPPED = "Too busy to snap, skipping"
ZKPY_SNAPSHOT_DONE = re.compile(r"snapshot taken\b.*?\btook_ms=(?P<ms>\d+).*?\bzxid=0x(?P<zxid>[0-9a-f]+)")
ZKPY_SNAPSHOT_BUSY = "snapshot still running"
SIZE_SUFFIXES = {"": 1, "k": 1_000, "m": 1_000_000}


class ScenarioError(Exception):
    pass


@dataclass(frozen=True)
class TreeWorkload:
    """znodes-N: N leaves (suffix k or m allowed) of value_size_bytes under parents of fanout."""

    znodes: int
    fanout: int = 1000
    value_size_bytes: int = 64
    root: str = "/b"

    @classmethod
    def parse(cls, text: str) -> TreeWorkload | None:
        """`znodes-1m`, `znodes-200k`, `znodes-50000`; None when text names another workload."""
        match = re.fullmatch(r"znodes-(\d+)([km]?)", text.strip().lower())
        if match is None:
            return None
        znodes = int(match.group(1)) * SIZE_SUFFIXES[match.group(2)]
        if znodes < 1:
            raise ValueError(f"{text!r} names no znodes")
        return cls(znodes)

    @property
    def label(self) -> str:
        for suffix, factor in (("m", 1_000_000), ("k", 1_000)):
            if self.znodes % factor == 0:
                return f"znodes-{self.znodes // factor}{suffix}"
        return f"znodes-{self.znodes}"

    def loadgen_args(self) -> list[str]:
        return [
            "--znodes", str(self.znodes),
            "--fanout", str(self.fanout),
            "--value-size", str(self.value_size_bytes),
            "--root", self.root,
        ]


@dataclass(frozen=True)
class SnapshotRecord:
    zxid: int
    took_ms: int


def completed_snapshots(side: str, log_text: str) -> list[SnapshotRecord]:
    """Snapshots the server's log reports as finished, oldest first."""
    if side == "apache":
        return _apache_snapshots(log_text)[0]
    records = []
    for line in log_text.splitlines():
        fields = _zkpy_fields(line)
        if fields is not None and fields.get("event") == "snapshot taken":
            records.append(SnapshotRecord(int(str(fields["zxid"]), 16), int(str(fields["took_ms"]))))
    return records


def snapshot_running(side: str, log_text: str, snap_dir: Path) -> bool:
    if side == "apache":
        return bool(_apache_snapshots(log_text)[1])
    # zkpy writes snapshot.<zxid>.tmp and renames it when done
    return any(p.name.endswith(".tmp") for p in _listdir(snap_dir))


def _apache_snapshots(log_text: str) -> tuple[list[SnapshotRecord], dict[str, int]]:
    """Finished snapshots, and the zxid of the one each thread is still writing."""
    started: dict[str, int] = {}
    done = []
    for line in log_text.splitlines():
        if match := APACHE_SNAPSHOT_START.match(line):
            started[match["thread"]] = int(match["zxid"], 16)
        elif (match := APACHE_SNAPSHOT_DONE.match(line)) and match["thread"] in started:
            done.append(SnapshotRecord(started.pop(match["thread"]), int(match["ms"])))
    # the one at start-up that restores an empty data directory logs no "Snapshot taken"
    started.pop("main", None)
    return done, started


def _zkpy_fields(line: str) -> dict[str, object] | None:
    """A zkpy log line as its fields, in either log format (json, or console key=value)."""
    if line.startswith("{"):
        try:
            parsed = json.loads(line)
        except json.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, dict) else None
    match = ZKPY_SNAPSHOT_DONE.search(line)
    if match is None:
        return None
    return {"event": "snapshot taken", "took_ms": match["ms"], "zxid": match["zxid"]}


def _listdir(directory: Path) -> list[Path]:
    try:
        return list(directory.iterdir())
    except OSError:
        return []


def memory_mib(pid: int) -> dict[str, float]:
    """VmRSS (resident now) and VmHWM (peak resident) of a process, in MiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mib": found["VmRSS"], "hwm_mib": found["VmHWM"]}


def srvr_facts(server: ServerProcess) -> dict[str, int]:
    """Node count and zxid from `srvr`; empty while the server does not serve."""
    try:
        reply = four_letter_word(server.port, "srvr", server.host, timeout_s=5.0)
    except OSError:
        return {}
    facts = {}
    for line in reply.splitlines():
        key, _, value = line.partition(":")
        if key == "Node count":
            facts["node_count"] = int(value)
        elif key == "Zxid":
            facts["zxid"] = int(value.strip(), 16)
    return facts


class CpuWindow:
    """CPU of the server, and of everything else on the machine except this benchmark's own
    children (a load generator finishing), between start and stop.

    server_pid is None when the server starts inside the window: all its CPU then counts."""

    def __init__(self, server_pid: int | None) -> None:
        self.machine_start = busy_ticks()
        self.server_start = (process_cpu_ticks(server_pid) or 0) if server_pid is not None else 0
        self.children_start_s = children_cpu_s()
        self.started_s = time.monotonic()

    def stop(self, server_pid: int) -> dict[str, float]:
        seconds = time.monotonic() - self.started_s
        server = (process_cpu_ticks(server_pid) or 0) - self.server_start
        children = round((children_cpu_s() - self.children_start_s) * os.sysconf("SC_CLK_TCK"))
        other = max(0, busy_ticks() - self.machine_start - server - children)
        return {"server_cpu_pct": round(ticks_to_pct(server, seconds), 1),
                "other_cpu_pct": round(ticks_to_pct(other, seconds), 1)}


def children_cpu_s() -> float:
    """CPU seconds of this process's children that have ended and been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class TreeScenario:
    """Runs the four phases against one started server; see the module docstring."""

    def __init__(
        self,
        side: str,
        server: ServerProcess,
        tree: TreeWorkload,
        load: LoadSettings,
        log_prefix: Path,
        before_phase: Callable[[], None],
        say: Callable[[str], None],
    ) -> None:
        self.side = side
        self.server = server
        self.tree = tree
        self.load = load
        self.log_prefix = log_prefix
        self.before_phase = before_phase
        self.say = say
        self.result: dict[str, object] = {
            "znodes": tree.znodes, "fanout": tree.fanout, "value_size": tree.value_size_bytes,
        }

    @property
    def snap_dir(self) -> Path:
        return self.server.data_dir / "version-2"

    def run(self) -> dict[str, object]:
        phase = "load"
        try:
            self.populate()
            phase = "memory"
            self.settle_and_measure_memory()
            phase = "snapshot"
            self.snapshot()
            phase = "restart"
            self.restart()
        except ScenarioError as e:
            self.result["error"] = f"{phase}: {e}"
        except OSError as e:
            self.result["error"] = f"{phase}: {type(e).__name__}: {e}"
        return self.result

    # ------------------------------------------------------------ phases

    def populate(self) -> None:
        self.before_phase()
        self.say(f"loading {self.tree.znodes:,} znodes")
        command = self.loadgen_command("populate", seconds=POPULATE_TIMEOUT_S)
        with open(self.log_path("populate"), "wb") as log:
            try:
                done = subprocess.run(command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                      timeout=POPULATE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                raise ScenarioError(f"populate did not finish within {POPULATE_TIMEOUT_S} s") from None
        populate = parse_result(done.stdout.decode("utf-8", "replace"))
        self.check_alive()
        if populate is None:
            raise ScenarioError(f"populate exited with {done.returncode} without a result")
        self.result["populate"] = populate
        if "error" in populate:
            raise ScenarioError(str(populate["error"]))
        if populate.get("errors"):
            raise ScenarioError(
                f"{populate['errors']} creates failed, first with {populate.get('first_error')}"
            )
        facts = srvr_facts(self.server)
        if "node_count" not in facts:
            raise ScenarioError("no srvr answer after loading")
        self.result.update(creates_per_s=populate["creates_per_s"], load_s=populate["seconds"],
                           node_count=facts["node_count"], zxid_after_load=f"0x{facts['zxid']:x}",
                           snapshots_during_load=len(self.snapshots()))
        self.say(f"loaded: {populate['creates_per_s']:,.0f} creates/s, node count {facts['node_count']:,}")

    def settle_and_measure_memory(self) -> None:
        waited_s = self.wait_for(lambda: not snapshot_running(self.side, self.log_text(), self.snap_dir),
                                 SNAPSHOT_TIMEOUT_S, "the snapshot running after the load to finish")
        self.result["wait_for_load_snapshot_s"] = round(waited_s, 1)
        during_load = completed_snapshots(self.side, self.log_text())
        self.result["load_snapshots"] = [
            {"zxid": f"0x{r.zxid:x}", "took_ms": r.took_ms} for r in during_load
        ]
        if during_load:
            self.say(f"{len(during_load)} snapshots during the load, longest"
                     f" {max(r.took_ms for r in during_load):,} ms")
        time.sleep(SETTLE_S)
        memory = memory_mib(self.pid())
        self.result.update(rss_after_load_mib=memory["rss_mib"], hwm_after_load_mib=memory["hwm_mib"])
        self.say(f"RSS after load {memory['rss_mib']:,.0f} MiB")

    def snapshot(self) -> None:
        full_tree_zxid = int(str(self.result["zxid_after_load"]), 16)
        self.before_phase()
        self.say("writing until a snapshot of the full tree starts")
        command = self.loadgen_command("touch", seconds=TOUCH_MAX_S)
        with open(self.log_path("touch"), "wb") as log:
            touch = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.PIPE)
            try:
                snapshot_zxid = self.await_snapshot_start(full_tree_zxid, touch)
                cpu = CpuWindow(self.pid())
            finally:
                try:  # communicate() closes stdin first, which ends the touch
                    out, _ = touch.communicate(timeout=60)
                except subprocess.TimeoutExpired:
                    touch.kill()
                    out, _ = touch.communicate()
        touched = parse_result(out.decode("utf-8", "replace")) or {}
        self.result["touch"] = touched
        if "error" in touched:
            raise ScenarioError(f"touch: {touched['error']}")
        self.wait_for(lambda: self.snapshot_record(snapshot_zxid) is not None, SNAPSHOT_TIMEOUT_S,
                      f"the snapshot 0x{snapshot_zxid:x} to finish")
        record = self.snapshot_record(snapshot_zxid)
        assert record is not None
        files = [p for p in self.snapshots() if int(SNAPSHOT_FILE.match(p.name)[1], 16) == snapshot_zxid]
        memory = memory_mib(self.pid())
        self.result.update(
            snapshot_ms=record.took_ms, snapshot_zxid=f"0x{snapshot_zxid:x}",
            snapshot_bytes=files[0].stat().st_size if files else None,
            snapshot_cpu=cpu.stop(self.pid()), rss_after_snapshot_mib=memory["rss_mib"],
            hwm_after_snapshot_mib=memory["hwm_mib"], snapshot_busy_messages=self.busy_messages(),
        )
        self.say(f"snapshot 0x{snapshot_zxid:x} took {record.took_ms:,} ms")

    def restart(self) -> None:
        expected = srvr_facts(self.server).get("node_count")
        if expected is None:
            raise ScenarioError("no srvr answer before the restart")
        self.before_phase()
        self.say("kill -9 and restart")
        log_offset = len(self.log_text())
        self.server.kill()
        cpu = CpuWindow(None)
        started_s = time.monotonic()
        try:
            self.server.start(timeout_s=RESTART_TIMEOUT_S)
        except (RuntimeError, TimeoutError) as e:
            raise ScenarioError(f"the server did not come back: {e}") from None
        self.wait_for(lambda: srvr_facts(self.server).get("node_count") == expected, RESTART_TIMEOUT_S,
                      f"node count {expected:,} after the restart")
        restart_s = time.monotonic() - started_s
        self.result.update(restart_s=round(restart_s, 2), restart_cpu=cpu.stop(self.pid()))
        restart_log = self.log_text()[log_offset:]
        if self.side == "apache":
            loaded = APACHE_SNAPSHOT_LOADED.search(restart_log)
            taken = _apache_snapshots(restart_log)[0]
            self.result.update(restart_snapshot_loaded_ms=int(loaded["ms"]) if loaded else None,
                               restart_snapshot_taken_ms=taken[0].took_ms if taken else None)
        time.sleep(SETTLE_S)
        memory = memory_mib(self.pid())
        self.result.update(rss_after_restart_mib=memory["rss_mib"])
        self.say(f"back with {expected:,} znodes after {restart_s:.1f} s; RSS {memory['rss_mib']:,.0f} MiB")

    # ------------------------------------------------------------ helpers

    def await_snapshot_start(self, full_tree_zxid: int, touch: subprocess.Popen[bytes]) -> int:
        """Polls the data directory until a snapshot of zxid >= full_tree_zxid appears."""
        while True:
            zxids = [int(m[1], 16) for p in _listdir(self.snap_dir) if (m := SNAPSHOT_FILE.match(p.name))]
            newer = [z for z in zxids if z >= full_tree_zxid]
            if newer:
                return min(newer)
            self.check_alive()
            if touch.poll() is not None:
                raise ScenarioError(
                    f"no snapshot of the full tree started while writing for up to {TOUCH_MAX_S} s"
                )
            time.sleep(POLL_S)

    def wait_for(self, condition: Callable[[], bool], timeout_s: float, what: str) -> float:
        started_s = time.monotonic()
        while not condition():
            self.check_alive()
            if time.monotonic() - started_s > timeout_s:
                raise ScenarioError(f"gave up waiting for {what} after {timeout_s:.0f} s")
            time.sleep(POLL_S)
        return time.monotonic() - started_s

    def check_alive(self) -> None:
        process = self.server.process
        if process is None or process.poll() is not None:
            code = None if process is None else process.returncode
            raise ScenarioError(f"the server exited ({code}):\n{self.server.log_tail()}")

    def pid(self) -> int:
        assert self.server.process is not None
        return self.server.process.pid

    def snapshot_record(self, zxid: int) -> SnapshotRecord | None:
        return next((r for r in completed_snapshots(self.side, self.log_text()) if r.zxid == zxid), None)

    def snapshots(self) -> list[Path]:
        return [
            p for p in _listdir(self.snap_dir)
            if SNAPSHOT_FILE.match(p.name) and not p.name.endswith(".tmp")
        ]

    def busy_messages(self) -> int:
        marker = APACHE_SNAPSHOT_SKIPPED if self.side == "apache" else ZKPY_SNAPSHOT_BUSY
        return self.log_text().count(marker)

    def log_text(self) -> str:
        try:
            return self.server.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_path(self, phase: str) -> Path:
        return self.log_prefix.with_name(f"{self.log_prefix.name}-{phase}.log")

    def loadgen_command(self, mode: str, seconds: int) -> list[str]:
        return [
            "java", *JVM_OPTIONS, "-cp", classpath(), "LoadGen",
            "--connect", self.server.address,
            "--workload", mode,
            *self.tree.loadgen_args(),
            "--sessions", str(self.load.sessions),
            "--outstanding", str(self.load.outstanding),
            "--seconds", str(seconds),
            "--server-pid", str(self.pid()),
            "--clock-ticks", str(os.sysconf("SC_CLK_TCK")),
        ]
