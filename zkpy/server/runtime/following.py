"""The FOLLOWING and OBSERVING roles: one connection to the leader's quorum port.

Theory of operation: `Following.run()` connects to the leader (retrying for up to initLimit
ticks, since the leader may open its port a moment after the election), then feeds every packet
to a LearnerCore and carries out its effects in order, awaiting each I/O effect (epoch files,
log sync, snapshot, truncation) before the next one: that order is the protocol's safety
(durable before ACK, snapshot before NEWLEADER's ACK). Once serving, logging is group-committed:
`Log` effects append at once, one fsync runs at a time, and when it ends the core acknowledges
every proposal it covered. A SNAP's database is read off the same stream by a thread that parses
it while this task keeps reading the socket. Reads time out after initLimit ticks while syncing
and syncLimit ticks after, as the Java learner's socket does; a timeout, a closed socket or a
protocol error ends the role and the peer goes back to the election.
"""

from __future__ import annotations

import asyncio
import queue
import time
from typing import Any

import structlog

from zkpy.persistence.snapshot import CorruptSnapshotError, deserialize_sync_snapshot
from zkpy.server.metrics import ServerMetrics
from zkpy.server.runtime.leader_elector import ElectionHooks
from zkpy.server.runtime.replica import Replica
from zkpy.server.zkserver import ZooKeeperServer
from zkpy.zab import learner as Ln
from zkpy.zab.quorum import ConfigTextError, QuorumMaj, major_change
from zkpy.zab.packets import (
    PacketError,
    PacketReader,
    PacketType,
    decode_revalidate_reply,
    encode_request,
    encode_revalidate_request,
    encode_touches,
    packet,
)

log = structlog.get_logger("zkpy.learner")

READ_SIZE = 256 * 1024
CONNECT_RETRY_S = 0.01
"""A follower often decides a moment before its leader listens; Java's 100 ms between attempts
(leaderConnectDelayDuringRetryMs) would be paid whole by every failover, a refused connect
costs next to nothing."""
WATCHDOG_CHECKS_PER_TICK = 4


class LeaderUnreachable(Exception):
    pass


class LearnerFailed(Exception):
    pass


class LeaderLinkWriter:
    """The server core's way to the leader: forwarded requests and revalidations.

    Between the leader link closing and this role noticing it, clients may still send; their
    requests are dropped here (the role ends at once and their connections with it, so they get
    ConnectionLoss and retry elsewhere) rather than written to a closed transport."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer

    def forward(self, session_id: int, cxid: int, op: int, body: bytes, auth_ids: list[Any]) -> None:
        _send_unless_closing(self.writer, packet(PacketType.REQUEST, -1,
                                                 encode_request(session_id, cxid, op, body), tuple(auth_ids)))

    def revalidate(self, session_id: int, timeout_ms: int) -> None:
        _send_unless_closing(self.writer, packet(PacketType.REVALIDATE, -1,
                                                 encode_revalidate_request(session_id, timeout_ms)))


def _send_unless_closing(writer: asyncio.StreamWriter | None, data: bytes) -> None:
    """The leader link can close during any await; the role ends at its next read, and what it
    would have sent by then is moot (uvloop raises RuntimeError on a closed transport)."""
    if writer is not None and not writer.is_closing():
        writer.write(data)


class Following:
    def __init__(self, replica: Replica, leader_sid: int, observer: bool, make_core: Any,
                 stopping: asyncio.Event, election: ElectionHooks) -> None:
        self.replica = replica
        self.election = election
        self.leader_sid = leader_sid
        self.observer = observer
        self.make_core = make_core
        self.stopping = stopping
        self.metrics = replica.storage.metrics or ServerMetrics()
        self.core = Ln.LearnerCore(
            replica.my_id, observer=observer, accepted_epoch=replica.epochs.accepted_epoch,
            current_epoch=replica.epochs.current_epoch, last_logged_zxid=replica.last_zxid,
            config_version=replica.verifier.version,
        )
        self.server: ZooKeeperServer | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.reader: asyncio.StreamReader | None = None
        self.packets = PacketReader()
        self._unsynced_zxid = -1
        self._sync_task: asyncio.Task[None] | None = None
        self._started = time.monotonic()
        self._reading_since: float | None = None
        self._silence: str | None = None

    @property
    def mode(self) -> str:
        return "observer" if self.observer else "follower"

    async def run(self) -> str:
        self.replica.leader_id = self.leader_sid
        self.replica.zab_state = "DISCOVERY"
        try:
            await self._connect()
            return await self._session()
        except (LeaderUnreachable, LearnerFailed, PacketError, OSError, asyncio.IncompleteReadError) as error:
            log.warning("leaving the leader", leader=self.leader_sid, reason=str(error) or type(error).__name__)
            return str(error)
        finally:
            self.election.leave_role()
            if self.writer is not None:
                self.writer.close()
            if self._sync_task is not None:
                await asyncio.gather(self._sync_task, return_exceptions=True)
            self._settle_pending()
            self.replica.stop_serving("lost the leader")

    async def _connect(self) -> None:
        config = self.replica.config
        leader = self.replica.servers.get(self.leader_sid)
        if leader is None:
            raise LeaderUnreachable(f"leader {self.leader_sid} is not in the configuration")
        deadline = time.monotonic() + config.init_limit * config.tick_time_ms / 1000
        while True:
            try:
                self.reader, self.writer = await asyncio.wait_for(
                    asyncio.open_connection(leader.host, leader.quorum_port, limit=READ_SIZE * 4),
                    timeout=max(deadline - time.monotonic(), 0.1))
                return
            except (OSError, asyncio.TimeoutError) as error:
                if time.monotonic() >= deadline or self.stopping.is_set():
                    raise LeaderUnreachable(f"cannot connect to the leader {leader.host}:{leader.quorum_port}: {error}") from None
                await asyncio.sleep(CONNECT_RETRY_S)

    async def _session(self) -> str:
        assert self.reader is not None and self.writer is not None
        await self._execute(self.core.start())
        watchdog = asyncio.get_running_loop().create_task(self._watch_reads())
        try:
            while not self.stopping.is_set():
                self._reading_since = time.monotonic()
                data = await self.reader.read(READ_SIZE)
                self._reading_since = None
                if not data:
                    raise LearnerFailed(self._silence or "the leader closed the connection")
                for qp in self.packets.feed(data):
                    await self._execute(self.core.on_packet(qp))
        finally:
            watchdog.cancel()
        return "stopped"

    async def _watch_reads(self) -> None:
        """Ends the session when a read waits longer than the limit. One watchdog instead of a
        timeout per read: wait_for costs a task and a timer for every packet from the leader."""
        config = self.replica.config
        while True:
            await asyncio.sleep(config.tick_time_ms / 1000 / WATCHDOG_CHECKS_PER_TICK)
            since = self._reading_since
            limit_ticks = config.sync_limit if self.server is not None else config.init_limit
            if since is not None and time.monotonic() - since > limit_ticks * config.tick_time_ms / 1000:
                self._silence = "nothing from the leader within the limit"
                assert self.writer is not None
                self.writer.close()
                return

    # ------------------------------------------------------------ effects

    async def _execute(self, effects: list[Any]) -> None:
        replica = self.replica
        for effect in effects:
            kind = type(effect)
            if kind is Ln.Send:
                self._send(effect.data)
            elif kind is Ln.Log:
                replica.storage.log_serialized([effect.txn_bytes])
                self._unsynced_zxid = effect.zxid
                if self.server is not None:
                    self._kick_sync()
                if self.server is not None and not self.observer:
                    self.metrics.learner_proposal_received_count.add()
            elif kind is Ln.Apply:
                replica.apply(effect.header, effect.txn, effect.txn_bytes)
                if self.server is not None:
                    replica.storage.maybe_snapshot(replica.tree)
                    self.metrics.learner_commit_received_count.add()
            elif kind is Ln.ReplyToPing:
                touches = self.server.take_touches() if self.server is not None else {}
                self._send(packet(PacketType.PING, effect.packet.zxid, encode_touches(touches),
                                  effect.packet.authinfo))
            elif kind is Ln.SyncArrived:
                if self.server is not None:
                    self.server.sync_arrived()
            elif kind is Ln.Revalidated:
                session_id, valid = decode_revalidate_reply(effect.packet.data)
                if self.server is not None:
                    self.server.finish_revalidation(session_id, valid)
            elif kind is Ln.SyncLog:
                await replica.storage.sync()
            elif kind is Ln.SaveAcceptedEpoch:
                replica.epochs.set_accepted(effect.epoch)
            elif kind is Ln.SaveCurrentEpoch:
                replica.epochs.set_current(effect.epoch)
            elif kind is Ln.ReceiveSnapshot:
                replica.zab_state, replica.sync_mode = "SYNCHRONIZATION", "SNAP"
                await self._receive_snapshot(effect.zxid)
            elif kind is Ln.Truncate:
                replica.zab_state, replica.sync_mode = "SYNCHRONIZATION", "TRUNC"
                log.warning("sync mode chosen", mode="TRUNC", zxid=f"0x{effect.zxid:x}")
                restored = await replica.storage.truncate_and_reload(effect.zxid)
                replica.set_tree(restored.tree)
                replica.committed.clear()
            elif kind is Ln.TakeSnapshot:
                await replica.storage.snapshot_now(replica.tree)
            elif kind is Ln.StartServing:
                self._start_serving(effect.new_epoch)
            elif kind is Ln.Activate:
                self._activate(effect)
            elif kind is Ln.Fail:
                raise LearnerFailed(effect.reason)

    def _activate(self, effect: Ln.Activate) -> None:
        """QuorumPeer.processReconfig: a new leader or a new role for us ends this role."""
        before = self.replica.verifier
        try:
            verifier = QuorumMaj.from_config_text(effect.config.decode("utf-8", "replace"))
        except ConfigTextError as error:
            raise LearnerFailed(f"bad configuration from the leader: {error}") from None
        if not self.replica.activate(verifier):
            return
        change = major_change(before, verifier, self.replica.my_id, self.leader_sid,
                              effect.designated_leader, observing=self.observer)
        if change:
            raise LearnerFailed(f"reconfiguration: {change}")

    async def _receive_snapshot(self, zxid: int) -> None:
        """Parses the leader's database off the stream on a thread while this task reads on."""
        assert self.reader is not None
        log.info("sync mode chosen", mode="SNAP", zxid=f"0x{zxid:x}")
        chunks: queue.Queue[bytes | None] = queue.Queue()
        chunks.put(self.packets.take_buffer())
        loop = asyncio.get_running_loop()
        parsing = loop.run_in_executor(None, _parse_snapshot, chunks, zxid)
        reading = loop.create_task(self._pump(chunks))
        try:
            tree, leftover = await parsing
        except CorruptSnapshotError as error:
            raise LearnerFailed(f"bad snapshot from the leader: {error}") from None
        finally:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
            chunks.put(None)  # unblocks the parser if this task was cancelled mid-snapshot
        rest = [leftover]
        while not chunks.empty():
            item = chunks.get_nowait()
            if item is not None:
                rest.append(item)
        tree.recompute_totals()
        self.replica.set_tree(tree)
        self.replica.committed.clear()
        self.packets = PacketReader()
        for qp in self.packets.feed(b"".join(rest)):
            await self._execute(self.core.on_packet(qp))

    async def _pump(self, chunks: queue.Queue[bytes | None]) -> None:
        assert self.reader is not None
        while True:
            data = await self.reader.read(READ_SIZE)
            if not data:
                chunks.put(None)
                return
            chunks.put(data)

    def _start_serving(self, new_epoch: int) -> None:
        assert self.writer is not None
        server = self.make_core(self.replica)
        server.learner = LeaderLinkWriter(self.writer)
        self.server = server
        self.replica.zab_state, self.replica.sync_mode = "BROADCAST", "NONE"
        self.replica.serve(server, self.mode)
        self.election.update_current_epoch(new_epoch)
        self._kick_sync()
        metrics = self.metrics
        sync_time = metrics.observer_sync_time if self.observer else metrics.follower_sync_time
        sync_time.record(int((time.monotonic() - self._started) * 1000))
        log.info("serving", mode=self.mode, leader=self.leader_sid, epoch=new_epoch,
                 sync_mode=self.core.sync_mode, took_ms=int((time.monotonic() - self._started) * 1000))

    # ------------------------------------------------------------ group commit

    def _kick_sync(self) -> None:
        if self._sync_task is None or self._sync_task.done():
            if self._unsynced_zxid >= 0:
                self._sync_task = asyncio.get_running_loop().create_task(self._sync_loop())

    async def _sync_loop(self) -> None:
        while self._unsynced_zxid >= 0:
            zxid = self._unsynced_zxid
            self._unsynced_zxid = -1
            try:
                await self.replica.storage.sync()
            except OSError as error:
                log.critical("cannot write the txn log; stopping", error=str(error))
                if self.writer is not None:
                    self.writer.close()
                raise
            for effect in self.core.persisted(zxid):
                if isinstance(effect, Ln.Send):
                    self._send(effect.data)

    def _send(self, data: bytes) -> None:
        _send_unless_closing(self.writer, data)

    def _settle_pending(self) -> None:
        """Proposals logged but not committed are applied to the tree (and its committed log), as
        a restart would replay them from the log: the next election must count them."""
        if self.server is None and self.core.sync_mode in ("SNAP", "TRUNC"):
            # A SNAP or TRUNC sync that did not reach NEWLEADER left a tree no disk holds
            # (Learner.shutdown after an unfinished SNAP): start over from what is durable.
            restored = self.replica.storage.restore()
            self.replica.set_tree(restored.tree)
            self.replica.committed.clear()
            return
        for txn in self.core.pending_proposals():
            if txn.zxid > self.replica.tree.last_processed_zxid:
                self.replica.tree.apply(txn.header, txn.txn)
                self.replica.remember(txn.zxid, txn.txn_bytes)


def _parse_snapshot(chunks: queue.Queue[bytes | None], zxid: int) -> Any:
    return deserialize_sync_snapshot(iter(chunks.get, None), zxid)
