"""Ensembles on loopback: any mix of zkpy and Apache ZooKeeper members, each its own process.

Every member gets a client, quorum and election port of its own, a data directory with `myid`,
and the same `server.N` lines. `start()` launches them all, then waits until each reports a
mode (leader, follower, observer) over `srvr`. Members are addressed by sid.
"""

from __future__ import annotations

import random
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.servers import ApacheZkServer, ServerProcess, ZkpyServer, four_letter_word

_MODE = re.compile(r"^Mode: (\S+)", re.MULTILINE)
_LISTEN_PORTS = (20000, 32000)
"""Below Linux's ephemeral range (32768-60999): no outgoing connection takes these meanwhile."""


def listen_port() -> int:
    """A free loopback port for a server to listen on, outside the ephemeral range (a port
    bound to 0 and released could be taken by any client socket before the server binds it)."""
    rng = random.Random()
    while True:
        port = rng.randrange(*_LISTEN_PORTS)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


@dataclass
class Member:
    sid: int
    kind: str
    quorum_port: int = field(default_factory=listen_port)
    election_port: int = field(default_factory=listen_port)
    observer: bool = False
    process: ServerProcess | None = None

    @property
    def server_line(self) -> str:
        role = "observer" if self.observer else "participant"
        assert self.process is not None
        return f"127.0.0.1:{self.quorum_port}:{self.election_port}:{role};127.0.0.1:{self.process.port}"


class Ensemble:
    def __init__(self, workdir: Path, kinds: list[str], *, observers: frozenset[int] = frozenset(),
                 extra_config: dict[str, str] | None = None) -> None:
        self.members: dict[int, Member] = {}
        for sid, kind in enumerate(kinds, start=1):
            member = Member(sid, kind, observer=sid in observers)
            cls = ZkpyServer if kind == "zkpy" else ApacheZkServer
            member.process = cls(workdir / f"server{sid}", dict(extra_config or {}), port=listen_port())
            self.members[sid] = member
        servers = {f"server.{m.sid}": m.server_line for m in self.members.values()}
        for member in self.members.values():
            assert member.process is not None
            member.process.extra_config.update({"initLimit": "10", "syncLimit": "5", **servers})
            if member.observer:
                member.process.extra_config["peerType"] = "observer"

    def process(self, sid: int) -> ServerProcess:
        process = self.members[sid].process
        assert process is not None
        return process

    def launch(self, sid: int) -> None:
        process = self.process(sid)
        process.write_config()
        (process.data_dir / "myid").write_text(f"{sid}\n")
        process.start_detached()

    def start(self, timeout_s: float = 60.0) -> Ensemble:
        """Launches the largest sid first and waits for its election port before the next, so
        that the first quorum includes it: with equal histories it becomes the leader (a JVM
        that starts slower would otherwise miss the first election)."""
        deadline = time.monotonic() + timeout_s
        for sid in sorted(self.members, reverse=True):
            self.launch(sid)
            self._wait_port(sid, self.members[sid].election_port, deadline)
        self.wait_modes(max(deadline - time.monotonic(), 1.0))
        return self

    def _wait_port(self, sid: int, port: int, deadline: float) -> None:
        while time.monotonic() < deadline:
            self.process(sid).check_alive()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"server {sid} never listened on its election port {port}")

    def mode(self, sid: int) -> str | None:
        try:
            text = four_letter_word(self.process(sid).port, "srvr", timeout_s=2.0)
        except OSError:
            return None
        match = _MODE.search(text)
        return match.group(1) if match else None

    def wait_modes(self, timeout_s: float, sids: list[int] | None = None) -> dict[int, str]:
        """Waits until every member in `sids` serves, with exactly one leader among them."""
        wanted = sids or [sid for sid, m in self.members.items() if m.process and m.process.process]
        deadline = time.monotonic() + timeout_s
        modes: dict[int, str | None] = {}
        while time.monotonic() < deadline:
            for sid in wanted:
                self.process(sid).check_alive()
            modes = {sid: self.mode(sid) for sid in wanted}
            if all(modes.values()) and list(modes.values()).count("leader") == 1:
                return {sid: str(mode) for sid, mode in modes.items()}
            time.sleep(0.1)
        tails = "\n".join(f"--- server {sid} ---\n{self.process(sid).log_tail(60)}" for sid in wanted)
        raise TimeoutError(f"ensemble did not settle: {modes}\n{tails}")

    def leader(self) -> int:
        for sid in self.members:
            if self.process(sid).process is not None and self.mode(sid) == "leader":
                return sid
        raise LookupError("no leader")

    def connect_string(self, sids: list[int] | None = None) -> str:
        return ",".join(self.process(sid).address for sid in (sids or list(self.members)))

    def stop(self) -> None:
        for sid in self.members:
            self.process(sid).stop()

    def __enter__(self) -> Ensemble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
