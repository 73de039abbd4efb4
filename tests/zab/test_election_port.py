"""The election port and LeaderElector on loopback, all peers in one event loop.

Part 1 checks QuorumCnxManager's connection rules on one ElectionPort, with hand-made peers
(plain asyncio streams) on the other end. Part 2 runs whole ensembles of LeaderElectors built
from zoo.cfg text: who wins, re-election after the leader goes away, observers, late joiners,
and peers that send garbage.
"""

from __future__ import annotations

import asyncio
import gc
import random
import struct
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvloop

from tests.support.servers import free_port
from zkpy.server.config import ServerConfig, parse_config
from zkpy.server.runtime.election_port import ElectionPort
from zkpy.server.runtime.leader_elector import ElectorClosedError, LeaderElector
from zkpy.zab.election import Decided
from zkpy.zab.election_wire import (
    MAX_MESSAGE_BYTES,
    OBSERVER_ID,
    PROTOCOL_VERSION_V1,
    Notification,
    PeerState,
    decode_notification,
    encode_frame,
    encode_handshake,
    encode_notification,
)
from zkpy.zab.zxid import make_zxid

pytestmark = pytest.mark.timeout(60)

T = TypeVar("T")
LOOPBACK = "127.0.0.1"
ELECTION_TIMEOUT_S = 20.0
EOF_TIMEOUT_S = 5.0


def run(
    main: Callable[[], Coroutine[Any, Any, T]], timeout_s: float = 40.0, loop: str = "uvloop"
) -> T:
    """Run a test body on uvloop (the production loop) or asyncio's own, bounded in time."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout_s):
            return await main()

    return uvloop.run(bounded()) if loop == "uvloop" else asyncio.run(bounded())


# --- hand-made peers -----------------------------------------------------------------------------


async def read_handshake(reader: asyncio.StreamReader) -> tuple[int, int, str]:
    """(protocol version, sid, address text) of a V1/V2 handshake."""
    head = await reader.readexactly(20)
    version, sid, length = struct.unpack(">qqi", head)
    address = await reader.readexactly(length)
    return version, sid, address.decode()


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    (length,) = struct.unpack(">i", await reader.readexactly(4))
    return await reader.readexactly(length)


async def closed_by_peer(reader: asyncio.StreamReader, timeout_s: float = EOF_TIMEOUT_S) -> bool:
    """Whether the other side closes the connection within `timeout_s` (data is discarded)."""
    try:
        async with asyncio.timeout(timeout_s):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except OSError:
        pass
    return True


async def still_open(reader: asyncio.StreamReader, wait_s: float = 0.5) -> bool:
    return not await closed_by_peer(reader, wait_s)


class Inbox:
    """The message handler of a bare ElectionPort: records (sid, payload)."""

    def __init__(self) -> None:
        self.messages: list[tuple[int, bytes]] = []
        self.arrived = asyncio.Event()

    def __call__(self, sid: int, payload: bytes) -> None:
        self.messages.append((sid, payload))
        self.arrived.set()

    async def wait_for(self, count: int, timeout_s: float = EOF_TIMEOUT_S) -> None:
        async with asyncio.timeout(timeout_s):
            while len(self.messages) < count:
                self.arrived.clear()
                await self.arrived.wait()


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def fake_listener(port: int) -> tuple[asyncio.AbstractServer, asyncio.Queue[Streams]]:
    accepted: asyncio.Queue[Streams] = asyncio.Queue()

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put((reader, writer))

    server = await asyncio.start_server(on_connection, LOOPBACK, port)
    return server, accepted


async def next_connection(accepted: asyncio.Queue[Streams]) -> Streams:
    async with asyncio.timeout(EOF_TIMEOUT_S):
        return await accepted.get()


async def next_dialled_message(accepted: asyncio.Queue[Streams]) -> tuple[bytes, asyncio.StreamWriter]:
    """The first message on the next connection the port under test opens, after its handshake."""
    reader, writer = await next_connection(accepted)
    await read_handshake(reader)
    return await read_frame(reader), writer


async def dial(port: int, first_bytes: bytes) -> Streams:
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    writer.write(first_bytes)
    await writer.drain()
    return reader, writer


# --- part 1: connection rules of one ElectionPort ------------------------------------------------


def test_smaller_sid_is_hung_up_on_and_dialled_back() -> None:
    async def main() -> None:
        ports = {2: free_port(), 5: free_port()}
        inbox = Inbox()
        port = ElectionPort(5, {sid: (LOOPBACK, p) for sid, p in ports.items()}, inbox)
        server, accepted = await fake_listener(ports[2])
        await port.start()
        try:
            reader, writer = await dial(ports[5], encode_handshake(2, [(LOOPBACK, ports[2])]))
            assert await closed_by_peer(reader)
            writer.close()
            back_reader, back_writer = await next_connection(accepted)
            assert await read_handshake(back_reader) == (
                PROTOCOL_VERSION_V1,
                5,
                f"{LOOPBACK}:{ports[5]}",
            )
            back_writer.write(encode_frame(b"from two"))
            await inbox.wait_for(1)
            assert inbox.messages == [(2, b"from two")]
            assert port.connected_sids() == {2}
            port.send(2, b"to two")
            assert await read_frame(back_reader) == b"to two"
            back_writer.close()
        finally:
            await port.close()
            server.close()

    run(main)


def test_dialling_a_larger_sid_hangs_up_and_the_last_message_waits() -> None:
    async def main() -> None:
        ports = {1: free_port(), 4: free_port()}
        inbox = Inbox()
        port = ElectionPort(1, {sid: (LOOPBACK, p) for sid, p in ports.items()}, inbox)
        server, accepted = await fake_listener(ports[4])
        await port.start()
        try:
            port.send(4, b"first")
            port.send(4, b"second")  # replaces "first": the send slot holds one message
            reader, writer = await next_connection(accepted)
            assert (await read_handshake(reader))[1] == 1
            assert await closed_by_peer(reader), "the smaller sid hangs up after its handshake"
            writer.close()
            assert not port.is_connected(4)
            # Server 4 dials back; the message still in the slot goes first.
            reader, writer = await dial(ports[1], encode_handshake(4, [(LOOPBACK, ports[4])]))
            assert await read_frame(reader) == b"second"
            assert port.is_connected(4)
            # ...and only once: nothing else is pending.
            port.send(4, b"third")
            assert await read_frame(reader) == b"third"
            writer.close()
        finally:
            await port.close()
            server.close()

    run(main)


def test_last_message_is_resent_on_a_new_connection() -> None:
    async def main() -> None:
        ports = {2: free_port(), 5: free_port()}
        port = ElectionPort(5, {sid: (LOOPBACK, p) for sid, p in ports.items()}, Inbox())
        server, accepted = await fake_listener(ports[2])
        await port.start()
        try:
            port.send(2, b"vote")
            message, writer = await next_dialled_message(accepted)
            assert message == b"vote"
            # The connection breaks; server 2 comes back and dials us: we hang up and dial back,
            # and SendWorker's rule resends the last message, which may have been lost.
            writer.close()
            await asyncio.sleep(0.1)
            r2, w2 = await dial(ports[5], encode_handshake(2, [(LOOPBACK, ports[2])]))
            assert await closed_by_peer(r2)
            w2.close()
            message, writer = await next_dialled_message(accepted)
            assert message == b"vote"
            writer.close()
        finally:
            await port.close()
            server.close()

    run(main)


def test_a_newer_connection_replaces_the_older_one() -> None:
    async def main() -> None:
        ports = {1: free_port(), 3: free_port()}
        inbox = Inbox()
        port = ElectionPort(1, {sid: (LOOPBACK, p) for sid, p in ports.items()}, inbox)
        await port.start()
        try:
            hello = encode_handshake(3, [(LOOPBACK, ports[3])])
            old_reader, old_writer = await dial(ports[1], hello + encode_frame(b"old"))
            await inbox.wait_for(1)
            new_reader, new_writer = await dial(ports[1], hello + encode_frame(b"new"))
            await inbox.wait_for(2)
            assert inbox.messages == [(3, b"old"), (3, b"new")]
            assert await closed_by_peer(old_reader)
            port.send(3, b"reply")
            assert await read_frame(new_reader) == b"reply"
            old_writer.close()
            new_writer.close()
        finally:
            await port.close()

    run(main)


def test_a_link_the_peer_closes_is_reported_and_a_replaced_one_is_not() -> None:
    async def main() -> None:
        ports = {1: free_port(), 3: free_port()}
        inbox = Inbox()
        lost: list[int] = []
        port = ElectionPort(1, {sid: (LOOPBACK, p) for sid, p in ports.items()}, inbox,
                            on_link_lost=lost.append)
        await port.start()
        try:
            hello = encode_handshake(3, [(LOOPBACK, ports[3])])
            old_reader, old_writer = await dial(ports[1], hello + encode_frame(b"old"))
            await inbox.wait_for(1)
            new_reader, new_writer = await dial(ports[1], hello + encode_frame(b"new"))
            await inbox.wait_for(2)
            assert await closed_by_peer(old_reader)
            assert lost == [] and port.is_connected(3)
            new_writer.close()
            async with asyncio.timeout(EOF_TIMEOUT_S):
                while not lost:
                    await asyncio.sleep(0.01)
            assert lost == [3] and not port.is_connected(3)
            old_writer.close()
        finally:
            await port.close()

    run(main)


@pytest.mark.parametrize(
    "first_bytes",
    [
        pytest.param(b"\x80" + random.Random(7).randbytes(63), id="random bytes"),
        pytest.param(struct.pack(">qqi", -1, 9, 4) + b"a:10", id="unknown protocol version"),
        pytest.param(struct.pack(">qqi", PROTOCOL_VERSION_V1, 9, 5000), id="address too long"),
        pytest.param(
            struct.pack(">qqi", PROTOCOL_VERSION_V1, 9, 4) + b"host", id="address without port"
        ),
        pytest.param(encode_handshake(1, [(LOOPBACK, 1)]), id="our own sid"),
        pytest.param(
            encode_handshake(9, [(LOOPBACK, 1)]) + struct.pack(">i", 0), id="zero length"
        ),
        pytest.param(
            encode_handshake(9, [(LOOPBACK, 1)]) + struct.pack(">i", MAX_MESSAGE_BYTES + 1),
            id="length over 512 KiB",
        ),
        pytest.param(
            encode_handshake(9, [(LOOPBACK, 1)]) + struct.pack(">i", -5), id="negative length"
        ),
    ],
)
def test_bad_input_closes_only_that_connection(first_bytes: bytes) -> None:
    async def main() -> None:
        ports = {1: free_port(), 3: free_port()}
        inbox = Inbox()
        port = ElectionPort(1, {sid: (LOOPBACK, p) for sid, p in ports.items()}, inbox)
        await port.start()
        try:
            good_reader, good_writer = await dial(
                ports[1], encode_handshake(3, [(LOOPBACK, ports[3])]) + encode_frame(b"ok")
            )
            await inbox.wait_for(1)
            bad_reader, bad_writer = await dial(ports[1], first_bytes)
            assert await closed_by_peer(bad_reader)
            bad_writer.close()
            assert await still_open(good_reader)
            good_writer.write(encode_frame(b"still here"))
            await inbox.wait_for(2)
            assert inbox.messages[-1] == (3, b"still here")
            good_writer.close()
        finally:
            await port.close()

    run(main)


def test_stalled_handshake_and_failing_handler_close_the_connection() -> None:
    async def main() -> None:
        ports = {1: free_port(), 3: free_port()}
        seen: list[bytes] = []

        def handler(sid: int, payload: bytes) -> None:
            seen.append(payload)
            if payload == b"boom":
                raise RuntimeError("handler bug")

        port = ElectionPort(
            1, {sid: (LOOPBACK, p) for sid, p in ports.items()}, handler, handshake_timeout_ms=300
        )
        await port.start()
        try:
            silent_reader, silent_writer = await dial(ports[1], b"\xff\xff")
            assert await closed_by_peer(silent_reader, timeout_s=3.0)
            silent_writer.close()
            reader, writer = await dial(
                ports[1], encode_handshake(3, [(LOOPBACK, ports[3])]) + encode_frame(b"boom")
            )
            assert await closed_by_peer(reader)
            writer.close()
            assert seen == [b"boom"]
            assert not port.is_connected(3)
        finally:
            await port.close()

    run(main)


def test_legacy_peers_and_unknown_sids() -> None:
    async def main() -> None:
        ports = {5: free_port()}
        inbox = Inbox()
        port = ElectionPort(5, {5: (LOOPBACK, ports[5])}, inbox)
        await port.start()
        try:
            # A pre-3.5 peer sends only its sid; a larger one is kept even if not configured.
            reader, writer = await dial(ports[5], struct.pack(">q", 7) + encode_frame(b"legacy"))
            await inbox.wait_for(1)
            assert inbox.messages == [(7, b"legacy")]
            port.send(7, b"answer")
            assert await read_frame(reader) == b"answer"
            writer.close()
            # A legacy observer (Long.MAX_VALUE) gets a negative id: smaller, so hung up on.
            reader, writer = await dial(ports[5], struct.pack(">q", OBSERVER_ID))
            assert await closed_by_peer(reader)
            writer.close()
            # Sending to an unknown, unconnected sid is a no-op.
            port.send(42, b"nobody")
            assert not port.is_connected(42)
        finally:
            await port.close()

    run(main)


def test_close_is_idempotent_and_closes_every_socket() -> None:
    async def main() -> None:
        ports = {1: free_port(), 3: free_port(), 4: free_port()}
        port = ElectionPort(1, {sid: (LOOPBACK, p) for sid, p in ports.items()}, Inbox())
        await port.start()
        kept_reader, kept_writer = await dial(ports[1], encode_handshake(3, [(LOOPBACK, 1)]))
        half_reader, half_writer = await dial(ports[1], b"\xff")  # handshake in progress
        await asyncio.sleep(0.2)
        port.send(4, b"to a server that is down")  # a dial that fails
        await port.close()
        await port.close()
        assert await closed_by_peer(kept_reader)
        assert await closed_by_peer(half_reader)
        kept_writer.close()
        half_writer.close()
        with pytest.raises(OSError):
            await asyncio.open_connection(LOOPBACK, ports[1])

    run(main)


def test_a_connection_the_peer_closes_at_once_is_a_failed_dial(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """uvloop raises RuntimeError on a write to a transport the peer has closed: a dial that
    connects and is reset before the handshake goes out must count as a failed dial (seen in the
    migration test as an exception escaping to the event loop)."""

    async def main() -> None:
        ports = {2: free_port(), 5: free_port()}
        escaped: list[dict[str, Any]] = []
        asyncio.get_running_loop().set_exception_handler(lambda _loop, context: escaped.append(context))
        real_open_connection = asyncio.open_connection
        resets = 0

        async def reset_once(host: str, port_number: int) -> Streams:
            nonlocal resets
            reader, writer = await real_open_connection(host, port_number)
            if resets == 0:
                resets += 1
                writer.transport.abort()
                await asyncio.sleep(0)
            return reader, writer

        monkeypatch.setattr(asyncio, "open_connection", reset_once)
        port = ElectionPort(5, {sid: (LOOPBACK, p) for sid, p in ports.items()}, Inbox())
        server, accepted = await fake_listener(ports[2])
        await port.start()
        try:
            port.send(2, b"lost with the reset connection")
            reader, writer = await next_connection(accepted)
            assert await closed_by_peer(reader)
            writer.close()
            await asyncio.sleep(0.1)
            gc.collect()
            assert not escaped, escaped
            port.send(2, b"vote")
            message, writer = await next_dialled_message(accepted)
            assert message == b"vote"
            writer.close()
        finally:
            await port.close()
            server.close()

    run(main)


# --- part 2: ensembles of LeaderElectors ---------------------------------------------------------


def ensemble_configs(
    tmp_path: Path, voters: int, observers: int = 0, extra: str = ""
) -> dict[int, ServerConfig]:
    sids = range(1, voters + observers + 1)
    lines = []
    for sid in sids:
        role = ":observer" if sid > voters else ""
        lines.append(f"server.{sid}={LOOPBACK}:{free_port()}:{free_port()}{role}")
    configs = {}
    for sid in sids:
        text = "\n".join(
            [
                f"dataDir={tmp_path / f'data{sid}'}",
                "tickTime=2000",
                "initLimit=10",
                "syncLimit=5",
                f"clientPort={free_port()}",
                "quorumCnxnTimeoutMs=2000",
                *(["peerType=observer"] if sid > voters else []),
                *lines,
                extra,
            ]
        )
        configs[sid] = parse_config(text, f"zoo{sid}.cfg", server_id=sid)
    return configs


async def started(configs: dict[int, ServerConfig]) -> dict[int, LeaderElector]:
    electors = {sid: LeaderElector.from_config(config) for sid, config in configs.items()}
    for elector in electors.values():
        await elector.start()
    return electors


async def close_all(electors: dict[int, LeaderElector]) -> None:
    await asyncio.gather(*(e.close() for e in electors.values()))


async def elect(
    electors: dict[int, LeaderElector], epochs: dict[int, int], zxids: dict[int, int]
) -> dict[int, Decided]:
    async with asyncio.timeout(ELECTION_TIMEOUT_S):
        results = await asyncio.gather(
            *(e.look_for_leader(epochs[sid], zxids[sid]) for sid, e in electors.items())
        )
    return dict(zip(electors, results, strict=True))


async def elect_fresh(electors: dict[int, LeaderElector]) -> dict[int, Decided]:
    """An election of servers that are all empty (epoch 0, zxid 0)."""
    return await elect(electors, dict.fromkeys(electors, 0), dict.fromkeys(electors, 0))


def leaders(decisions: dict[int, Decided]) -> set[int]:
    return {d.leader_sid for d in decisions.values()}


def states(decisions: dict[int, Decided]) -> dict[int, PeerState]:
    return {sid: d.state for sid, d in decisions.items()}


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_three_fresh_servers_elect_the_largest_sid(tmp_path: Path, loop: str) -> None:
    async def main() -> None:
        electors = await started(ensemble_configs(tmp_path, 3))
        try:
            decisions = await elect_fresh(electors)
            assert leaders(decisions) == {3}
            assert states(decisions) == {
                1: PeerState.FOLLOWING,
                2: PeerState.FOLLOWING,
                3: PeerState.LEADING,
            }
            assert all(not e.looking for e in electors.values())
        finally:
            await close_all(electors)

    run(main, loop=loop)


def test_five_servers_elect_the_most_up_to_date_and_reelect_without_it(tmp_path: Path) -> None:
    async def main() -> None:
        electors = await started(ensemble_configs(tmp_path, 5))
        try:
            zxids = {1: make_zxid(1, 5), 2: make_zxid(1, 9), 3: make_zxid(1, 7), 4: make_zxid(1, 1),
                     5: make_zxid(1, 8)}
            decisions = await elect(electors, dict.fromkeys(electors, 1), zxids)
            assert leaders(decisions) == {2}
            assert states(decisions)[2] == PeerState.LEADING
            # The leader established epoch 2 and committed up to (2, 3) before it went away.
            for elector in electors.values():
                elector.update_current_epoch(2)
            await electors.pop(2).close()
            zxids = {1: make_zxid(2, 3), 3: make_zxid(2, 3), 4: make_zxid(2, 2), 5: make_zxid(2, 1)}
            decisions = await elect(electors, dict.fromkeys(electors, 2), zxids)
            assert leaders(decisions) == {3}, "equal zxids: the larger sid wins"
            assert states(decisions) == {
                1: PeerState.FOLLOWING,
                3: PeerState.LEADING,
                4: PeerState.FOLLOWING,
                5: PeerState.FOLLOWING,
            }
            # Round numbers only grow.
            assert all(d.vote.election_epoch == 2 for d in decisions.values())
        finally:
            await close_all(electors)

    run(main)


def test_leader_goes_away_and_the_rest_elect_a_new_one(tmp_path: Path) -> None:
    async def main() -> None:
        electors = await started(ensemble_configs(tmp_path, 3))
        try:
            decisions = await elect_fresh(electors)
            assert leaders(decisions) == {3}
            await electors.pop(3).close()
            # A follower notices first and looks alone for a while: its peer still answers
            # FOLLOWING 3, which is no quorum without 3's own LEADING answer.
            first = asyncio.ensure_future(electors[1].look_for_leader(0, 0))
            await asyncio.sleep(0.5)
            assert not first.done()
            async with asyncio.timeout(ELECTION_TIMEOUT_S):
                second = await electors[2].look_for_leader(0, 0)
                first_decision = await first
            assert (first_decision.leader_sid, second.leader_sid) == (2, 2)
            assert second.state == PeerState.LEADING
        finally:
            await close_all(electors)

    run(main)


def test_a_late_server_learns_the_established_leader(tmp_path: Path) -> None:
    async def main() -> None:
        configs = ensemble_configs(tmp_path, 3)
        early = await started({1: configs[1], 2: configs[2]})
        late: dict[int, LeaderElector] = {}
        try:
            decisions = await elect(early, {1: 0, 2: 0}, {1: 0, 2: 0})
            assert leaders(decisions) == {2}
            for elector in early.values():
                elector.update_current_epoch(1)
            # Server 3 would win a fresh election (largest sid), but an ensemble already runs.
            late = await started({3: configs[3]})
            async with asyncio.timeout(ELECTION_TIMEOUT_S):
                decided = await late[3].look_for_leader(0, 0)
            assert (decided.leader_sid, decided.state) == (2, PeerState.FOLLOWING)
            assert decided.vote.peer_epoch == 1
        finally:
            await close_all(early | late)

    run(main)


def test_an_observer_never_wins_and_learns_the_leader(tmp_path: Path) -> None:
    async def main() -> None:
        configs = ensemble_configs(tmp_path, 3, observers=1)
        electors = await started(configs)
        try:
            # The observer (4) has the largest sid and the newest zxid: neither makes it a leader.
            zxids = {1: make_zxid(1, 1), 2: make_zxid(1, 2), 3: make_zxid(1, 1), 4: make_zxid(1, 9)}
            decisions = await elect(electors, dict.fromkeys(electors, 1), zxids)
            assert leaders(decisions) == {2}
            assert states(decisions) == {
                1: PeerState.FOLLOWING,
                2: PeerState.LEADING,
                3: PeerState.FOLLOWING,
                4: PeerState.OBSERVING,
            }
            # A restarted observer asks again and is told the same leader.
            await electors.pop(4).close()
            electors.update(await started({4: configs[4]}))
            async with asyncio.timeout(ELECTION_TIMEOUT_S):
                decided = await electors[4].look_for_leader(1, make_zxid(1, 9))
            assert (decided.leader_sid, decided.state) == (2, PeerState.OBSERVING)
        finally:
            await close_all(electors)

    run(main)


def test_garbage_on_the_election_port_does_not_stop_the_election(tmp_path: Path) -> None:
    async def main() -> None:
        configs = ensemble_configs(tmp_path, 3)
        electors = await started(configs)
        port_of = {sid: c.servers[sid].election_port for sid, c in configs.items()}
        rng = random.Random(3888)
        try:
            bad = [
                await dial(port_of[1], b"\x80" + rng.randbytes(200)),
                await dial(port_of[2], encode_handshake(9, [(LOOPBACK, 1)]) + b"\x7f\xff\xff\xff"),
                await dial(port_of[3], struct.pack(">qqi", PROTOCOL_VERSION_V1, 9, 0)),
                await dial(port_of[3], encode_handshake(3, [(LOOPBACK, 1)])),
            ]
            # A configured voter's sid with an unparsable notification: skipped, link kept.
            _, impostor_writer = await dial(
                port_of[1], encode_handshake(3, [(LOOPBACK, port_of[3])]) + encode_frame(b"x" * 30)
            )
            decisions = await elect_fresh(electors)
            assert leaders(decisions) == {3}
            for reader, writer in bad:
                assert await closed_by_peer(reader)
                writer.close()
            impostor_writer.close()
            # An unconfigured larger sid that asks gets the settled vote as the answer.
            asker_reader, asker_writer = await dial(
                port_of[1],
                encode_handshake(9, [(LOOPBACK, 1)])
                + encode_frame(encode_notification(Notification(PeerState.LOOKING, 9, 0, 1, 0))),
            )
            async with asyncio.timeout(EOF_TIMEOUT_S):
                answer = decode_notification(await read_frame(asker_reader))
            assert (answer.state, answer.leader) == (PeerState.FOLLOWING, 3)
            asker_writer.close()
        finally:
            await close_all(electors)

    run(main)


def test_close_fails_a_running_election_and_is_idempotent(tmp_path: Path) -> None:
    async def main() -> None:
        configs = ensemble_configs(tmp_path, 3)
        electors = await started({1: configs[1]})
        elector = electors[1]
        looking = asyncio.ensure_future(elector.look_for_leader(0, 0))
        await asyncio.sleep(0.3)
        assert elector.looking and not looking.done()
        await elector.close()
        await elector.close()
        with pytest.raises(ElectorClosedError):
            await looking
        with pytest.raises(ElectorClosedError):
            await elector.look_for_leader(0, 0)

    run(main)


def test_from_config_reads_election_settings(tmp_path: Path) -> None:
    configs = ensemble_configs(
        tmp_path,
        3,
        extra="cnxTimeout=1234\nquorumListenOnAllIPs=true\nfastleader.minNotificationInterval=50",
    )
    elector = LeaderElector.from_config(configs[2])
    assert elector.port.connect_timeout_ms == 1234
    assert elector.port.handshake_timeout_ms == 2000
    assert elector.port.listen_host == "0.0.0.0"
    assert elector.election.min_notification_interval_ms == 50
    assert elector.election.verifier.config_bytes() == b"".join(
        f"server.{sid}={s.spec()}\n".encode() for sid, s in sorted(configs[2].servers.items())
    ) + b"version=0"
    bad = ensemble_configs(tmp_path, 3, extra="cnxTimeout=soon")
    with pytest.raises(ValueError, match="cnxTimeout"):
        LeaderElector.from_config(bad[1])
