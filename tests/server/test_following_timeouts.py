"""Following against a hand-made leader that goes quiet: the read limits of a learner (initLimit
ticks while syncing, as the Java learner's socket timeout), checked without a real leader."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest
import uvloop

from tests.support.servers import free_port
from zkpy.server.config import parse_config
from zkpy.server.runtime.following import Following
from zkpy.server.runtime.main import settings_from
from zkpy.server.runtime.quorum_peer import QuorumPeer
from zkpy.server.runtime.storage import Storage

pytestmark = pytest.mark.timeout(30)
LOOPBACK = "127.0.0.1"
TICK_MS = 100
INIT_LIMIT_TICKS = 3


class _NoElection:
    def update_current_epoch(self, epoch: int) -> None:
        pass

    def leave_role(self) -> None:
        pass


def test_a_leader_that_accepts_and_says_nothing_is_left_after_init_limit(tmp_path: Path) -> None:
    async def main() -> tuple[str, float, bytes]:
        leader_port = free_port()
        received = bytearray()
        silent_leader_connections: list[asyncio.StreamWriter] = []

        async def silent_leader(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            silent_leader_connections.append(writer)
            received.extend(await reader.read(65536))

        server = await asyncio.start_server(silent_leader, LOOPBACK, leader_port)
        config = parse_config(
            f"tickTime={TICK_MS}\ninitLimit={INIT_LIMIT_TICKS}\nsyncLimit=2\ndataDir={tmp_path}\n"
            f"clientPort={free_port()}\n"
            f"server.1={LOOPBACK}:{free_port()}:{free_port()}\n"
            f"server.2={LOOPBACK}:{leader_port}:{free_port()}\n"
            f"server.3={LOOPBACK}:{free_port()}:{free_port()}\n",
            "zoo.cfg", server_id=1)
        peer = QuorumPeer(config, Storage(config, random.Random(1)), settings_from)
        assert peer.load() == 0
        assert peer.replica is not None
        following = Following(peer.replica, 2, False, peer._make_core, asyncio.Event(), _NoElection())
        started = time.monotonic()
        try:
            reason = await following.run()
        finally:
            server.close()
            for writer in silent_leader_connections:
                writer.close()
            await peer.storage.close()
        return reason, time.monotonic() - started, bytes(received)

    reason, took_s, received = uvloop.run(main())
    assert reason == "nothing from the leader within the limit"
    limit_s = INIT_LIMIT_TICKS * TICK_MS / 1000
    assert limit_s <= took_s < limit_s + 1.0
    assert received, "the learner spoke first (FOLLOWERINFO)"
