"""Rolling migration of an ensemble member between Apache ZooKeeper and zkpy, plus a write load.

An in-place migration keeps everything a member owns except its process: the same zoo.cfg, the
same dataDir (myid, currentEpoch/acceptedEpoch, txn logs, snapshots) and the same client, quorum
and election ports. `relaunch` stops the member's server with SIGTERM, as `zkServer.sh stop` and
`zkpy-server stop` do (or kills it with SIGKILL), and starts the other kind on the config file
already on disk, without rewriting it. Each kind logs to a file of its own in the member's
directory, so that a failing step shows the log of the server that ran it.

`WriteLoad` runs writer threads, each with its own kazoo session over the whole connect string,
creating unique sequential paths. A create whose reply was lost (ConnectionLoss) may or may not
have happened, so the writer retries the same path and takes NodeExists as done; only creates the
server confirmed (success, or NodeExists on such a retry) go into `acknowledged`, the set that
must survive. Each writer also holds an ephemeral node from the start, and a listener notes if
its session was ever lost, so the test can tell session survival from reconnection.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import ConnectionLoss, NodeExistsError, SessionExpiredError

from tests.support.ensemble import Ensemble
from tests.support.servers import ApacheZkServer, ServerProcess, ZkpyServer, four_letter_word

_SRVR_FIELD = re.compile(r"^([A-Za-z ]+): (.*)$", re.MULTILINE)


@dataclass
class MigratedZkpyServer(ZkpyServer):
    @property
    def log_path(self) -> Path:
        return self.workdir / "zkpy.log"


@dataclass
class RolledBackApacheServer(ApacheZkServer):
    @property
    def log_path(self) -> Path:
        return self.workdir / "apache-rollback.log"


_KINDS: dict[str, type[ServerProcess]] = {"zkpy": MigratedZkpyServer,
                                           "apache": RolledBackApacheServer}


def relaunch(ensemble: Ensemble, sid: int, kind: str, *, kill_9: bool = False,
             stop_timeout_s: float = 20.0) -> ServerProcess:
    """Stops member `sid` (SIGTERM, or SIGKILL with `kill_9`) and starts a `kind` server on its
    zoo.cfg and dataDir."""
    member = ensemble.members[sid]
    old = ensemble.process(sid)
    if kill_9:
        old.kill()
    else:
        old.stop(timeout_s=stop_timeout_s)
    new = _KINDS[kind](old.workdir, dict(old.extra_config), port=old.port, host=old.host)
    assert new.config_path == old.config_path and new.data_dir == old.data_dir
    new.start_detached()
    member.process = new
    member.kind = kind
    return new


def srvr(port: int) -> dict[str, str]:
    """The `Key: value` lines of a `srvr` reply ({} when the server does not answer)."""
    try:
        text = four_letter_word(port, "srvr", timeout_s=3.0)
    except OSError:
        return {}
    return {key: value.strip() for key, value in _SRVR_FIELD.findall(text)}


def mntr(port: int) -> dict[str, str]:
    """The `zk_<key>\\t<value>` lines of an `mntr` reply, keys without the prefix."""
    try:
        text = four_letter_word(port, "mntr", timeout_s=3.0)
    except OSError:
        return {}
    pairs = (line.split("\t", 1) for line in text.splitlines() if line.startswith("zk_"))
    return {key[3:]: value for key, value in pairs}


@dataclass
class Writer:
    name: str
    client: KazooClient
    ephemeral_path: str
    session_id: int
    sessions_lost: int = 0
    retries: int = 0
    error: BaseException | None = None
    thread: threading.Thread | None = None


@dataclass
class WriteLoad:
    hosts: str
    writers: int = 3
    root: str = "/migration"
    session_timeout_s: float = 30.0
    pause_s: float = 0.005
    """Between creates: enough load to matter, little enough that two cores still run elections."""
    acknowledged: list[str] = field(default_factory=list)
    longest_gap_s: float = 0.0
    """The longest time without any acknowledged write: the outage clients saw."""
    _last_ack: float | None = None
    _writers: list[Writer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def load_path(self) -> str:
        return f"{self.root}/load"

    @property
    def alive_path(self) -> str:
        return f"{self.root}/alive"

    def start(self, connect_timeout_s: float = 30.0) -> WriteLoad:
        for i in range(self.writers):
            client = KazooClient(hosts=self.hosts, timeout=self.session_timeout_s)
            client.start(timeout=connect_timeout_s)
            client.ensure_path(self.load_path)
            client.ensure_path(self.alive_path)
            name = f"w{i}"
            ephemeral = f"{self.alive_path}/{name}"
            client.create(ephemeral, b"", ephemeral=True)
            writer = Writer(name, client, ephemeral, client.client_id[0])
            client.add_listener(self._lost_listener(writer))
            self._writers.append(writer)
        for writer in self._writers:
            writer.thread = threading.Thread(target=self._run, args=(writer,),
                                             name=f"load-{writer.name}", daemon=True)
            writer.thread.start()
        return self

    @staticmethod
    def _lost_listener(writer: Writer) -> Callable[[str], None]:
        def listener(state: str) -> None:
            if state == KazooState.LOST:
                writer.sessions_lost += 1
        return listener

    def _run(self, writer: Writer) -> None:
        n = 0
        outcome_unknown = False
        try:
            while not self._stop.is_set():
                path = f"{self.load_path}/{writer.name}-{n:08d}"
                try:
                    writer.client.create(path, path.encode())
                except NodeExistsError:
                    # Only a retry may find its path taken: the earlier attempt was applied.
                    if not outcome_unknown:
                        raise
                except (ConnectionLoss, SessionExpiredError):
                    # The connection (or the session) went while the create was in flight.
                    outcome_unknown = True
                    writer.retries += 1
                    time.sleep(0.05)
                    continue
                with self._lock:
                    self.acknowledged.append(path)
                    now = time.monotonic()
                    if self._last_ack is not None:
                        self.longest_gap_s = max(self.longest_gap_s, now - self._last_ack)
                    self._last_ack = now
                n += 1
                outcome_unknown = False
                time.sleep(self.pause_s)
        except BaseException as error:  # noqa: BLE001 - reported by check_healthy()
            writer.error = error

    def count(self) -> int:
        with self._lock:
            return len(self.acknowledged)

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self.acknowledged)

    def check_healthy(self) -> None:
        failed = [(w.name, w.error) for w in self._writers if w.error is not None]
        assert not failed, f"writers failed: {failed}"

    def wait_for_progress(self, writes: int, timeout_s: float) -> float:
        """Waits until `writes` more creates are acknowledged; returns the seconds it took."""
        started = time.monotonic()
        target = self.count() + writes
        while self.count() < target:
            self.check_healthy()
            if time.monotonic() - started > timeout_s:
                raise TimeoutError(f"writes stalled: {self.count()} acknowledged, wanted {target} "
                                   f"within {timeout_s} s")
            time.sleep(0.05)
        return time.monotonic() - started

    @property
    def members(self) -> list[Writer]:
        return list(self._writers)

    def stop(self, join_timeout_s: float = 30.0) -> None:
        self._stop.set()
        for writer in self._writers:
            if writer.thread is not None:
                writer.thread.join(join_timeout_s)
                assert not writer.thread.is_alive(), f"writer {writer.name} did not stop"

    def close(self) -> None:
        self._stop.set()
        for writer in self._writers:
            writer.client.stop()
            writer.client.close()
