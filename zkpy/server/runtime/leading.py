"""The LEADING role: the quorum port, learner connections and the leader's commit pipeline.

Theory of operation: `Leading.run()` listens on the quorum port, feeds a LeaderCore with every
learner packet and a half-tick timer, and carries out its effects on the spot (they are all
non-blocking: socket writes, epoch files, applying a txn). Once a quorum has acknowledged
NEWLEADER it builds the serving core; from then on the core's prepared txns go, batch by batch,
to the LeaderCore (which sends PROPOSALs) and to the log, whose fsync is the leader's own ACK
(the next batch's fsync starts while this one is acknowledged). Learners' REQUESTs are prepped by
the core like local writes; their pings touch sessions; REVALIDATE is answered from the session
tracker. A reconfig request is planned here against the LeaderCore's configurations
(`plan`, `begin`); its commit activates the new configuration on the replica. `run()` returns
when the LeaderCore gives up (lost quorum, timeout, another leader designated) or on stop; the
caller then goes back to the election.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

import structlog

from zkpy.jute.constants import OpCode
from zkpy.persistence.snapshot import serialize_sync_snapshot
from zkpy.server.admin_commands import LearnerInfo
from zkpy.server.config import LearnerType
from zkpy.server.metrics import ServerMetrics
from zkpy.server.reconfig import ReconfigRejected, next_config
from zkpy.server.runtime.housekeeping import reap_containers
from zkpy.server.runtime.leader_elector import ElectionHooks
from zkpy.server.runtime.replica import Replica
from zkpy.server.zkserver import ZooKeeperServer
from zkpy.zab import leader as L
from zkpy.zab.packets import (
    PacketError,
    PacketReader,
    PacketType,
    QuorumPacket,
    decode_request,
    decode_revalidate_request,
    decode_touches,
    encode_revalidate_reply,
    packet,
)
from zkpy.zab.quorum import QuorumMaj
from zkpy.zab.zxid import make_zxid

log = structlog.get_logger("zkpy.leader")


class LearnerConnection(asyncio.Protocol):
    """One learner on the quorum port: bytes in to packets, packets out as bytes."""

    def __init__(self, leading: Leading) -> None:
        self.leading = leading
        self.reader = PacketReader()
        self.transport: asyncio.Transport | None = None
        self.address = ""
        self.peer: tuple[str, int] = ("", 0)
        self.established_ms = int(time.time() * 1000)
        self.closed = False
        self._out: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername") or ("", 0)
        self.peer = (peer[0], peer[1])
        self.address = f"{peer[0]}:{peer[1]}"
        self.leading.learner_connected(self)

    def data_received(self, data: bytes) -> None:
        try:
            packets = self.reader.feed(data)
        except PacketError as error:
            log.warning("closing learner connection", reason=str(error), address=self.address)
            self.close()
            return
        for qp in packets:
            if self.closed:
                return
            self.leading.on_packet(self, qp)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.leading.learner_lost(self)

    def write(self, data: bytes) -> None:
        """Queued, and sent with whatever else this loop iteration writes to the learner (one
        send for the COMMITs of many ACKs read at once, not one each)."""
        if self.closed or self.transport is None:
            return
        self._out.append(data)
        if len(self._out) == 1:
            asyncio.get_running_loop().call_soon(self._flush)

    def write_stream(self, chunks: Iterable[bytes]) -> None:
        """Large data (a snapshot): after what is queued, straight to the transport's buffer."""
        self._flush()
        for chunk in chunks:
            if self.closed or self.transport is None:
                return
            self.transport.write(chunk)

    def _flush(self) -> None:
        out, self._out = self._out, []
        if out and not self.closed and self.transport is not None:
            self.transport.write(b"".join(out))

    def close(self) -> None:
        if not self.closed and self.transport is not None:
            self._flush()
            self.closed = True
            self.transport.close()


class Leading:
    def __init__(self, replica: Replica, make_core: Any, stopping: asyncio.Event,
                 election: ElectionHooks) -> None:
        self.replica = replica
        self.election = election
        self.make_core = make_core
        self.stopping = stopping
        self.metrics = replica.storage.metrics or ServerMetrics()
        config = replica.config
        self.core = L.LeaderCore(
            replica.my_id, replica.verifier,
            accepted_epoch=replica.epochs.accepted_epoch, current_epoch=replica.epochs.current_epoch,
            last_zxid=replica.last_zxid, committed=replica.committed,
            init_limit=config.init_limit, sync_limit=config.sync_limit,
            reconfig_enabled=config.reconfig_enabled,
        )
        self.server: ZooKeeperServer | None = None
        self._done = asyncio.Event()
        self.reason = ""
        self._proposals_waiting = asyncio.Event()
        self._started = time.monotonic()

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> str:
        config = self.replica.config
        me = self.replica.servers[self.replica.my_id]
        host = "0.0.0.0" if config.quorum_listen_on_all_ips else me.host
        loop = asyncio.get_running_loop()
        try:
            listener = await loop.create_server(lambda: LearnerConnection(self), host=host,
                                                port=me.quorum_port, reuse_address=True)
        except OSError as error:
            log.error("cannot listen on the quorum port", port=me.quorum_port, error=str(error))
            await asyncio.sleep(1)
            return f"quorum port {me.quorum_port} unusable"
        log.info("leading", epoch_accepted=self.core.accepted_epoch, zxid=f"0x{self.replica.last_zxid:x}")
        replica = self.replica
        replica.leader_id = replica.my_id
        replica.zab_state = "DISCOVERY"
        replica.proposal_sizes = (-1, -1, -1)
        replica.learner_infos = self._learner_infos
        tasks = [loop.create_task(self._ticks()), loop.create_task(self._log_loop()),
                 loop.create_task(reap_containers(config, lambda: self.server))]
        stop_wait = loop.create_task(self.stopping.wait())
        done_wait = loop.create_task(self._done.wait())
        await asyncio.wait([stop_wait, done_wait], return_when=asyncio.FIRST_COMPLETED)
        self.election.leave_role()
        stop_wait.cancel()
        done_wait.cancel()
        for task in tasks:
            task.cancel()
        listener.close()
        for handle in list(self.core.learners):
            handle.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._settle_outstanding()
        self.replica.stop_serving("leader is shutting down")
        return self.reason or "stopped"

    def give_up(self, reason: str) -> None:
        if not self._done.is_set():
            self.reason = reason
            log.warning("leader giving up", reason=reason)
            self._done.set()

    async def _settle_outstanding(self) -> None:
        """Proposals this leader logged but did not commit stay in its log; the tree takes them
        too, so that the next election sees what a restart would replay."""
        outstanding = [self.core.outstanding[z] for z in sorted(self.core.outstanding)]
        if not outstanding:
            return
        try:
            await self.replica.storage.sync()
        except OSError:
            return
        for proposal in outstanding:
            if proposal.header.zxid > self.replica.tree.last_processed_zxid:
                self.replica.tree.apply(proposal.header, proposal.txn)
                self.replica.remember(proposal.header.zxid, proposal.txn_bytes)
        self.core.outstanding.clear()

    # ------------------------------------------------------------ learners

    def learner_connected(self, conn: LearnerConnection) -> None:
        log.info("learner connected", address=conn.address)
        self._execute(self.core.learner_connected(conn))

    def learner_lost(self, conn: LearnerConnection) -> None:
        sid = self.core.sid_of(conn)
        if conn in self.core.learners:
            log.info("learner gone", sid=sid, address=conn.address)
        self._execute(self.core.learner_lost(conn))

    def on_packet(self, conn: LearnerConnection, qp: QuorumPacket) -> None:
        self._execute(self.core.on_packet(conn, qp))

    # ------------------------------------------------------------ effects

    def _execute(self, effects: list[Any]) -> None:
        for effect in effects:
            kind = type(effect)
            if kind is L.Send:
                effect.handle.write(effect.data)
            elif kind is L.Apply:
                self.replica.apply(effect.header, effect.txn, None)
                self.metrics.commit_count.add()
            elif kind is L.LearnerMessage:
                self._learner_message(effect.handle, effect.packet)
            elif kind is L.SendSnapshot:
                self._send_snapshot(effect.handle, effect.zxid)
            elif kind is L.SyncChosen:
                self._sync_chosen(effect)
            elif kind is L.CloseLearner:
                log.warning("closing learner connection", reason=effect.reason, address=effect.handle.address)
                effect.handle.close()
                self.core.learner_lost(effect.handle)
            elif kind is L.SaveAcceptedEpoch:
                self.replica.epochs.set_accepted(effect.epoch)
            elif kind is L.SaveCurrentEpoch:
                self.replica.epochs.set_current(effect.epoch)
            elif kind is L.StartServing:
                self._start_serving()
            elif kind is L.Activate:
                self.replica.activate(effect.verifier)
            elif kind is L.GiveUp:
                self.give_up(effect.reason)

    def _learner_infos(self) -> list[LearnerInfo]:
        return [LearnerInfo(sid if sid is not None else -1,
                            LearnerType.OBSERVER if observer else LearnerType.PARTICIPANT,
                            synced, handle.peer, handle.established_ms)
                for handle, sid, observer, synced in self.core.learner_states()]

    def _sync_chosen(self, chosen: L.SyncChosen) -> None:
        log.info("sync mode chosen", mode=chosen.mode, learner=self.core.sid_of(chosen.handle),
                 learner_zxid=f"0x{chosen.peer_zxid:x}", zxid=f"0x{self.core.last_committed:x}")
        (self.metrics.snap_count if chosen.mode == "SNAP" else self.metrics.diff_count).add()

    def _send_snapshot(self, conn: LearnerConnection, zxid: int) -> None:
        conn.write(packet(PacketType.SNAP, zxid))
        conn.write_stream(serialize_sync_snapshot(self.replica.tree))

    def _learner_message(self, conn: LearnerConnection, qp: QuorumPacket) -> None:
        server = self.server
        if server is None:
            return
        if qp.type == PacketType.PING:
            for session_id, _timeout in decode_touches(qp.data):
                server.touch_from_learner(session_id)
        elif qp.type == PacketType.REVALIDATE:
            self.metrics.revalidate_count.add()
            session_id, _timeout = decode_revalidate_request(qp.data)
            valid = server.touch_from_learner(session_id)
            conn.write(packet(PacketType.REVALIDATE, -1, encode_revalidate_reply(session_id, valid)))
        elif qp.type == PacketType.REQUEST:
            session_id, cxid, op, body = decode_request(qp.data)
            if op == OpCode.sync:
                self._execute(self.core.sync_request(conn))
            else:
                server.submit_learner_request(session_id, cxid, op, body, qp.authinfo or ())

    def _start_serving(self) -> None:
        server = self.make_core(self.replica)
        server.prep.next_zxid = make_zxid(self.core.epoch, 1)
        server.prep.reconfigurer = self
        server.on_proposals = self._proposals_waiting.set
        self.server = server
        self.replica.zab_state = "BROADCAST"
        self.replica.leading_since_s = time.monotonic()
        self.replica.serve(server, "leader")
        self.election.update_current_epoch(self.core.epoch)
        log.info("serving", mode="leader", epoch=self.core.epoch,
                 took_ms=int((time.monotonic() - self._started) * 1000))

    # ------------------------------------------------------------ reconfiguration

    def plan(self, request: Any, zxid: int) -> QuorumMaj:
        try:
            return next_config(request, current=self.core.verifier, last_seen=self.core.last_seen, zxid=zxid,
                               synced_voters=self.core.synced_voters(),
                               standalone_enabled=self.replica.config.standalone_enabled)
        except ReconfigRejected as rejected:
            log.warning("reconfig refused", reason=rejected.message)
            raise

    def begin(self, proposed: QuorumMaj) -> None:
        log.info("reconfig proposed", version=f"0x{proposed.version:x}",
                 voters=sorted(proposed.voting_members), observers=sorted(proposed.observing_members))
        self.core.last_seen = proposed

    # ------------------------------------------------------------ timers and the log

    async def _ticks(self) -> None:
        half_tick_s = self.replica.config.tick_time_ms / 2000
        while True:
            await asyncio.sleep(half_tick_s)
            self._execute(self.core.tick())
            if self.server is not None:
                self.server.tick()

    async def _log_loop(self) -> None:
        storage = self.replica.storage
        syncing: tuple[int, asyncio.Future[int]] | None = None
        while True:
            if syncing is None:
                await self._proposals_waiting.wait()
                self._proposals_waiting.clear()
                syncing = self._propose_next()
                continue
            zxid, future = syncing
            try:
                await future
            except OSError as error:
                log.critical("cannot write the txn log; stopping", error=str(error))
                self.give_up("txn log write failed")
                raise
            self._proposals_waiting.clear()
            syncing = self._propose_next()
            self._execute(self.core.persisted(zxid))
            if self.server is not None:
                storage.maybe_snapshot(self.replica.tree)

    def _propose_next(self) -> tuple[int, asyncio.Future[int]] | None:
        if self.server is None:
            return None
        batch = self.server.take_proposals()
        if not batch:
            return None
        effects = self.core.propose(batch)
        self.metrics.proposal_count.add(len(batch))
        self._execute(effects)
        outstanding = self.core.outstanding
        # The log takes the bytes the proposals carry (a txn is serialized once).
        proposed = [header.zxid for header, _ in batch if header.zxid in outstanding]
        txns = [outstanding[zxid].txn_bytes for zxid in proposed]
        for txn in txns:
            self.replica.record_proposal_size(len(txn))
        self.replica.pending_syncs = self.core.pending_sync_count
        if not proposed:
            return None
        return proposed[-1], self.replica.storage.log_and_sync(txns)

