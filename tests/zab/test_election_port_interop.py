"""zkpy's LeaderElector voting with Apache ZooKeeper 3.8 peers (real QuorumPeerMain processes).

The ensemble has three voters: zkpy is server 1 (the smallest sid, so it never wins: it only
elects, it cannot lead a ZAB epoch), Apache ZooKeeper runs servers 2 and 3.

A. zkpy and Apache 3 start; two of three voters are a quorum, so Java's 3 can only become
   LEADING by counting zkpy's vote, and zkpy must decide FOLLOWING 3. Then Apache 2 starts,
   follows 3, and `srvr` shows 3 leading and 2 following.
B. Apache 2 and 3 elect a leader among themselves; zkpy starts late and must learn that leader
   from their FOLLOWING/LEADING answers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvloop

from tests.support.servers import apache_zookeeper_available, free_port
from tests.zab.test_interop_election import EnsembleMember
from zkpy.server.config import parse_config
from zkpy.server.runtime.leader_elector import LeaderElector
from zkpy.zab.election_wire import PeerState

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(
        not apache_zookeeper_available(), reason="Apache ZooKeeper is not installed"
    ),
    pytest.mark.timeout(120),
]

T = TypeVar("T")
ZKPY_SID = 1
APACHE_SIDS = (2, 3)
JAVA_START_TIMEOUT_S = 40.0
DECISION_TIMEOUT_S = 40.0
SERVING_TIMEOUT_S = 40.0


class Ensemble:
    """Ports and configs of the three members; Apache members started on demand."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.server_lines = {
            sid: f"127.0.0.1:{free_port()}:{free_port()}" for sid in (ZKPY_SID, *APACHE_SIDS)
        }
        self.common = {"tickTime": "2000", "initLimit": "30", "syncLimit": "5"}
        self.common.update({f"server.{sid}": line for sid, line in self.server_lines.items()})
        self.apache = {
            sid: EnsembleMember(tmp_path / f"zk{sid}", dict(self.common), sid=sid)
            for sid in APACHE_SIDS
        }

    def zkpy_elector(self) -> LeaderElector:
        lines = {
            "dataDir": str(self.tmp_path / "zkpy"),
            "clientPort": str(free_port()),
            **self.common,
        }
        text = "".join(f"{key}={value}\n" for key, value in lines.items())
        return LeaderElector.from_config(parse_config(text, "zkpy.cfg", server_id=ZKPY_SID))

    async def start_apache(self, sid: int) -> None:
        await asyncio.to_thread(self.apache[sid].start, JAVA_START_TIMEOUT_S)

    async def modes(self) -> dict[int, str | None]:
        return {sid: await asyncio.to_thread(s.mode) for sid, s in self.apache.items()}

    async def wait_serving(self) -> dict[int, str | None]:
        """Poll `srvr` until both Apache servers report a mode (leader/follower)."""
        deadline = time.monotonic() + SERVING_TIMEOUT_S
        modes = await self.modes()
        while not all(modes.values()) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            modes = await self.modes()
        assert all(modes.values()), (modes, self.logs())
        return modes

    def stop(self) -> None:
        for server in self.apache.values():
            server.stop()

    def logs(self) -> str:
        return "\n".join(f"--- server {sid}\n{s.log_tail(30)}" for sid, s in self.apache.items())


def run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return uvloop.run(main())


def leader_of(modes: dict[int, str | None]) -> int:
    [leader] = [sid for sid, mode in modes.items() if mode == "leader"]
    return leader


def test_apache_leader_needs_the_zkpy_vote(tmp_path: Path) -> None:
    ensemble = Ensemble(tmp_path)

    async def main() -> None:
        elector = ensemble.zkpy_elector()
        await elector.start()
        try:
            looking = asyncio.ensure_future(elector.look_for_leader(0, 0))
            await ensemble.start_apache(3)
            async with asyncio.timeout(DECISION_TIMEOUT_S):
                decided = await looking
            assert (decided.leader_sid, decided.state) == (3, PeerState.FOLLOWING)
            await ensemble.start_apache(2)
            modes = await ensemble.wait_serving()
            assert modes == {2: "follower", 3: "leader"}
            assert leader_of(modes) == decided.leader_sid
            # Java's 3 decided LEADING in the round zkpy voted in, before 2 existed.
            log3 = ensemble.apache[3].log_path.read_text(errors="replace")
            assert "n.sid:1, n.state:LOOKING" in log3, ensemble.logs()
        finally:
            await elector.close()

    try:
        run(main)
    finally:
        ensemble.stop()


def test_zkpy_starting_late_learns_the_apache_leader(tmp_path: Path) -> None:
    ensemble = Ensemble(tmp_path)

    async def main() -> None:
        await asyncio.gather(ensemble.start_apache(2), ensemble.start_apache(3))
        modes = await ensemble.wait_serving()
        assert sorted(str(mode) for mode in modes.values()) == ["follower", "leader"]
        elector = ensemble.zkpy_elector()
        await elector.start()
        try:
            async with asyncio.timeout(DECISION_TIMEOUT_S):
                decided = await elector.look_for_leader(0, 0)
            assert decided.leader_sid == leader_of(modes)
            assert decided.state == PeerState.FOLLOWING
            # No check of the vote's epoch: a Java peer first sends the LOOKING vote it queued
            # for us during its own election, and that stale vote may decide for the leader.
            assert await ensemble.modes() == modes
        finally:
            await elector.close()

    try:
        run(main)
    finally:
        ensemble.stop()
