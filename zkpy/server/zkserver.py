"""The request pipeline of one server: handshake, sessions, prep -> txn -> commit -> apply -> reply.

Theory of operation (ZooKeeperServer, PrepRequestProcessor, SyncRequestProcessor and
FinalRequestProcessor folded into one synchronous object):

* A connection hands over whole frames. The first is the ConnectRequest; the rest are
  RequestHeader + body. Every request becomes a `PendingOp` at the tail of its connection's
  queue, and replies leave strictly from the head of that queue, so a session sees its replies in
  request order even though writes finish later than reads.
* A read is answered at once when nothing is ahead of it; otherwise it waits and runs (against
  the tree as it is then) right after the write ahead of it has been applied, as ZooKeeper's
  CommitProcessor does.
* A write is prepped into a txn with the next zxid and queued in `proposals`. The host (the
  runtime, later ZAB) takes them with `take_proposals()`, makes them durable/committed and hands
  them back in order to `commit()`, which applies each to the tree, delivers the watch events it
  fired, and completes the waiting op. Nothing here waits: the host decides when.
* Sessions are created and closed by txns too (createSession / closeSession), so that the txn
  stream is exactly what will be logged and replicated.
* On a follower or observer (`learner` set: the link to the leader), writes, syncs and new
  sessions are forwarded to the leader instead of prepped here, reconnecting sessions are
  revalidated by the leader, and session touches are collected for the leader's pings instead
  of expiring anything here. Committed txns come back through `commit()`; the ones this server
  forwarded are matched to their waiting request by (session id, cxid), as CommitProcessor does.

Connections are objects with `send(frame)`, `close(reason)`, `pause_reading()` and
`resume_reading()`; watches are registered with the connection itself as the watcher.
"""

from __future__ import annotations

import struct
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from zkpy.datatree import acl as acls
from zkpy.datatree.java_order import concurrent_hashmap_order, java_record_hash
from zkpy.datatree.tree import DataTree, TxnResult, ephemerals_in_java_order
from zkpy.datatree.watches import PERSISTENT, RECURSIVE, STANDARD
from zkpy.jute import records as r
from zkpy.jute.codec import DECODE_ERRORS, read_ustring
from zkpy.jute.constants import AddWatchMode, Err, EventType, OpCode, Perms, WatcherType, Xid
from zkpy.server import replies
from zkpy.server.containers import ReaperPolicy, reap_candidates
from zkpy.server.prep import PrepPolicy, PrepProcessor
from zkpy.server.requests import KNOWN_OPS, WRITE_OPS, decode_request
from zkpy.server.sessions import SessionTracker
from zkpy.server.stats import ConnectionStats, ServerStats

log = structlog.get_logger("zkpy.server")

_REQUEST_HEADER = struct.Struct(">ii")
_INT = struct.Struct(">i")
_FAST_READ_FAILURES = (IndexError, *DECODE_ERRORS)
_FAST_READS = frozenset({OpCode.getData, OpCode.exists})
_ZERO_PASSWORD = bytes(16)


class LeaderLink(Protocol):
    """What a follower's or observer's server core needs from its connection to the leader."""

    def forward(self, session_id: int, cxid: int, op: int, body: bytes, auth_ids: list[Any]) -> None: ...
    def revalidate(self, session_id: int, timeout_ms: int) -> None: ...


class Connection(Protocol):
    session_id: int
    auth_ids: list[Any]
    remote_address: tuple[str, int]
    stats: ConnectionStats

    def send(self, frame: bytes) -> None: ...
    def close(self, reason: str) -> None: ...
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ServerSettings:
    tick_ms: int = 2000
    min_session_timeout_ms: int = 4000
    max_session_timeout_ms: int = 40000
    server_id: int = 0
    max_outstanding_per_connection: int = 1000
    super_digest: str | None = None
    prep: PrepPolicy = PrepPolicy()


@dataclass(slots=True)
class PendingOp:
    conn: Any
    xid: int
    op: int
    request: Any
    received_ms: int
    is_write: bool
    frame: bytes | None = None
    close_after: bool = False


@dataclass(slots=True)
class _ConnState:
    queue: deque[PendingOp] = field(default_factory=deque)
    handshake_readonly: bool | None = None
    paused: bool = False


class ZooKeeperServer:
    def __init__(self, settings: ServerSettings, clock_ms: Callable[[], int] | None = None,
                 tree: DataTree | None = None) -> None:
        self.settings = settings
        self.clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self.tree = tree if tree is not None else DataTree()
        self.prep = PrepProcessor(self.tree, settings.prep)
        may_read = lambda conn, acl: self._readable(conn, acl, Perms.READ)  # noqa: E731
        self.tree.data_watches.may_read = may_read
        self.tree.child_watches.may_read = may_read
        self.tracker = SessionTracker(settings.tick_ms, settings.server_id, self.clock_ms())
        for session_id, timeout_ms in self.tree.sessions.items():
            self.tracker.track(session_id, timeout_ms, self.clock_ms())
        self.stats = ServerStats()
        self.connections: dict[Any, _ConnState] = {}
        self.session_connections: dict[int, Any] = {}
        self.proposals: list[tuple[Any, Any]] = []
        self.on_proposals: Callable[[], None] = lambda: None
        self._in_flight: dict[int, PendingOp] = {}
        self.serving = True
        self.learner: LeaderLink | None = None
        self.touches: dict[int, int] = {}
        self._forwarded: dict[tuple[int, int], PendingOp] = {}
        self._pending_syncs: deque[PendingOp] = deque()
        self._revalidating: dict[int, Any] = {}
        self.read_only = False
        """ReadOnlyZooKeeperServer: only clients that allow it, no writes, local sessions."""
        self.metrics: Any = None
        """zkpy.server.metrics.ServerMetrics when the runtime records metrics."""

    # ------------------------------------------------------------ connections

    def connection_made(self, conn: Connection) -> None:
        self.connections[conn] = _ConnState()

    def connection_lost(self, conn: Connection) -> None:
        state = self.connections.pop(conn, None)
        if state is None:
            return
        for op in state.queue:
            if op.is_write:
                op.conn = None
        self.tree.remove_watcher(conn)
        if conn.session_id and self.session_connections.get(conn.session_id) is conn:
            del self.session_connections[conn.session_id]

    @property
    def outstanding_requests(self) -> int:
        return sum(len(s.queue) for s in self.connections.values())

    @property
    def last_zxid(self) -> int:
        return self.tree.last_processed_zxid

    # ------------------------------------------------------------ handshake

    def handle_connect(self, conn: Connection, frame: bytes) -> None:
        """The first frame of a connection: ConnectRequest, with or without readOnly."""
        request, off = r.ConnectRequest.decode(frame, 0)
        readonly_sent = off < len(frame)
        state = self.connections[conn]
        state.handshake_readonly = bool(frame[off]) if readonly_sent else None
        self.stats.packets_received += 1
        conn.stats.packets_received += 1
        now = self.clock_ms()
        if request.lastZxidSeen > self.tree.last_processed_zxid:
            log.info("connection refused", reason="client has seen a newer zxid",
                     client_zxid=hex(request.lastZxidSeen), our_zxid=hex(self.tree.last_processed_zxid))
            conn.close("client zxid ahead of server")
            return
        timeout_ms = min(max(request.timeOut, self.settings.min_session_timeout_ms),
                         self.settings.max_session_timeout_ms)
        if self.read_only and not state.handshake_readonly:
            log.info("connection refused", reason="not a read-only client while the server is read-only")
            conn.close("server is read-only")
            return
        if request.sessionId == 0:
            session_id = self.tracker.new_session_id()
            conn.session_id = session_id
            self.session_connections[session_id] = conn
            if self.read_only:
                # A read-only server's sessions are its own: no txn, nobody to ask.
                self.tracker.track(session_id, timeout_ms, now)
                self._send(conn, self._connect_response(conn, timeout_ms, session_id,
                                                        self.tracker.password(session_id)))
                return
            op = PendingOp(conn, 0, OpCode.createSession, timeout_ms, now, True)
            state.queue.append(op)
            if self.learner is not None:
                self._forwarded[(session_id, 0)] = op
                self.learner.forward(session_id, 0, OpCode.createSession, _INT.pack(timeout_ms), [])
                return
            self.tracker.track(session_id, timeout_ms, now)
            header, txn = self.prep.create_session_txn(session_id, timeout_ms, now)
            self._propose(header, txn, op)
            return
        session_id = request.sessionId
        # ZooKeeper closes the session's current connection before it checks the password
        # (processConnectRequest, then reopenSession), so even a refused attempt disconnects it.
        previous = self.session_connections.get(session_id)
        if previous is not None and previous is not conn:
            previous.close("session reconnected on another connection")
            self.connection_lost(previous)
        if self.learner is not None and self.tracker.check_password(session_id, request.passwd):
            # Learner.validateSession: only the leader knows whether the session still lives.
            self._revalidating[session_id] = (conn, timeout_ms)
            self.learner.revalidate(session_id, timeout_ms)
            return
        valid = self.tracker.check_password(session_id, request.passwd) and self.tracker.touch(session_id, now)
        self._finish_session_init(conn, session_id, valid,
                                  self.tracker.sessions[session_id].timeout_ms if valid else 0)

    def finish_revalidation(self, session_id: int, valid: bool) -> None:
        """The leader's answer to a revalidation (ZooKeeperServer.finishSessionInit)."""
        pending = self._revalidating.pop(session_id, None)
        if pending is None:
            log.warning("revalidation answer for no pending session", session=f"0x{session_id & (2**64 - 1):x}")
            return
        conn, timeout_ms = pending
        if conn not in self.connections:
            return
        if valid:
            self.touches[session_id] = timeout_ms
        self._finish_session_init(conn, session_id, valid, timeout_ms)

    def _finish_session_init(self, conn: Connection, session_id: int, valid: bool, timeout_ms: int) -> None:
        if not valid:
            log.info("session reconnect refused", session=f"0x{session_id & (2**64 - 1):x}")
            self._send(conn, self._connect_response(conn, 0, 0, _ZERO_PASSWORD))
            conn.close("invalid session")
            return
        conn.session_id = session_id
        self.session_connections[session_id] = conn
        self._send(conn, self._connect_response(conn, timeout_ms, session_id, self.tracker.password(session_id)))

    def _connect_response(self, conn: Connection, timeout_ms: int, session_id: int, password: bytes) -> bytes:
        out = bytearray()
        r.ConnectResponse(0, timeout_ms, session_id, password).encode(out)
        if self.connections[conn].handshake_readonly is not None:
            out.append(1 if self.read_only else 0)
        return len(out).to_bytes(4, "big") + bytes(out)

    # ------------------------------------------------------------ requests

    def handle_packet(self, conn: Connection, frame: bytes) -> None:
        """One request frame after the handshake. Raises DECODE_ERRORS on a bad header."""
        xid, op = _REQUEST_HEADER.unpack_from(frame, 0)
        off = 8
        self.stats.packets_received += 1
        conn.stats.packets_received += 1
        now = self.clock_ms()
        session_id = conn.session_id
        if session_id:
            if self.learner is None:
                self.tracker.touch(session_id, now)
            else:
                self.touches[session_id] = self.tree.sessions.get(session_id, 0)
        if op in _FAST_READS and not self.connections[conn].queue:
            reply = self._fast_read(conn, xid, op, frame)
            if reply is not None:
                self._send_reply(conn, op, xid, reply, now, now)
                return
        if op == OpCode.auth:
            self._auth(conn, frame, off)
            return
        if op not in KNOWN_OPS:
            # UnimplementedRequestProcessor: answer with zxid -1, then drop the connection.
            self._send(conn, replies.reply(xid, -1, Err.UNIMPLEMENTED))
            conn.close(f"unknown opcode {op}")
            return
        if op == OpCode.sasl:
            self._send(conn, replies.reply(xid, self.tree.last_processed_zxid, Err.AUTHFAILED))
            conn.close("SASL is not configured")
            return
        try:
            request = decode_request(op, frame, off)
        except DECODE_ERRORS:
            request = _MALFORMED
        state = self.connections[conn]
        is_write = op in WRITE_OPS
        pending = PendingOp(conn, xid, op, request, now, is_write)
        queue = state.queue
        if self.read_only and (is_write or op == OpCode.sync):
            if op == OpCode.closeSession:
                self._send_reply(conn, op, xid, replies.reply(xid, self.tree.last_processed_zxid, 0), now, now)
                self.tracker.remove(session_id)
                self.session_connections.pop(session_id, None)
                conn.close("session closed by client")
                self.connection_lost(conn)
                return
            self._send_reply(conn, op, xid, replies.reply(xid, self.tree.last_processed_zxid, Err.NOTREADONLY),
                             now, now)
            return
        if self.learner is not None and (is_write or op == OpCode.sync):
            pending.is_write = True
            queue.append(pending)
            if op == OpCode.closeSession:
                pending.close_after = True
            if op == OpCode.sync:
                self._pending_syncs.append(pending)
            else:
                self._forwarded[(session_id, xid)] = pending
            self.learner.forward(session_id, xid, op, frame[off:], conn.auth_ids)
        elif is_write:
            queue.append(pending)
            pending.close_after = op == OpCode.closeSession and request is not _MALFORMED
            header_, txn = self._prep_write(session_id, xid, op, request, conn.auth_ids, now)
            self._propose(header_, txn, pending)
        elif queue:
            queue.append(pending)
        else:
            self._send_reply(conn, op, xid, self._read(conn, pending), now, now)
            return
        if len(queue) > self.settings.max_outstanding_per_connection and not state.paused:
            state.paused = True
            conn.pause_reading()

    def _propose(self, header: Any, txn: Any, op: PendingOp | None) -> None:
        if op is not None:
            self._in_flight[header.zxid] = op
        first = not self.proposals
        self.proposals.append((header, txn))
        if first:
            self.on_proposals()

    def take_proposals(self) -> list[tuple[Any, Any]]:
        batch = self.proposals
        self.proposals = []
        return batch

    def _auth(self, conn: Connection, frame: bytes, off: int) -> None:
        packet, _ = r.AuthPacket.decode(frame, off)
        zxid = 0
        if packet.scheme == "digest" and packet.auth is not None:
            ident = acls.digest_of(packet.auth.decode("utf-8", "replace"))
            add_auth_id(conn, r.Id("digest", ident))
            if self.settings.super_digest is not None and ident == self.settings.super_digest:
                add_auth_id(conn, acls.SUPER_ID)
            self._send(conn, replies.reply(Xid.AUTH, zxid, 0))
            return
        log.info("authentication failed", scheme=packet.scheme)
        self.stats.auth_failed_count += 1
        self._send(conn, replies.reply(Xid.AUTH, zxid, Err.AUTHFAILED))
        conn.close("authentication failed")

    # ------------------------------------------------------------ commit

    def commit(self, header: Any, txn: Any) -> TxnResult:
        """Applies one committed txn, delivers its watch events, and completes its request."""
        result = self.tree.apply(header, txn)
        self.prep.applied_through(header.zxid)
        zxid = header.zxid
        if result.events:
            for watcher, event_type, path in result.events:
                if watcher in self.connections:
                    self._send(watcher, replies.notification(event_type, path, zxid))
        txn_type = header.type
        if txn_type == OpCode.closeSession:
            self._session_closed(header.clientId)
        op = self._in_flight.pop(zxid, None)
        if op is None and self._forwarded:
            op = self._forwarded.pop((header.clientId, header.cxid), None)
        if op is None or op.conn is None:
            return result
        conn = op.conn
        if op.op == OpCode.createSession:
            timeout_ms = txn.timeOut
            op.frame = self._connect_response(conn, timeout_ms, header.clientId, self.tracker.password(header.clientId))
        elif txn_type == OpCode.reconfig and not result.err:
            # A reconfig answers like getData of /zookeeper/config: the new config and its Stat.
            op.frame = replies.get_data(op.xid, zxid, txn.data, result.stat_bytes)
        else:
            op.frame = replies.write_reply(op.xid, zxid, op.op, result)
        self._drain(conn)
        return result

    def sync_arrived(self) -> None:
        """The leader answered the oldest forwarded sync: every txn before it is applied here."""
        if not self._pending_syncs:
            log.warning("SYNC from the leader with no sync pending")
            return
        op = self._pending_syncs.popleft()
        if op.conn is None:
            return
        path = op.request.path if op.request is not _MALFORMED and op.request is not None else ""
        op.frame = replies.reply(op.xid, self.tree.last_processed_zxid, 0, r.SyncResponse(path))
        self._drain(op.conn)

    def submit_learner_request(self, session_id: int, cxid: int, op: int, body: bytes,
                               auth_ids: Sequence[Any]) -> None:
        """A write a learner forwarded (LearnerHandler REQUEST): prepped here, like a local one."""
        now = self.clock_ms()
        if op == OpCode.createSession:
            timeout_ms = _INT.unpack_from(body, 0)[0] if len(body) >= 4 else self.settings.min_session_timeout_ms
            self.tracker.track(session_id, timeout_ms, now)
            header, txn = self.prep.create_session_txn(session_id, timeout_ms, now)
            self._propose(header, txn, None)
            return
        if op not in WRITE_OPS:
            log.warning("learner forwarded a request that is not a write", op=op)
            return
        try:
            request = decode_request(op, body, 0)
        except DECODE_ERRORS:
            request = _MALFORMED
        header, txn = self._prep_write(session_id, cxid, op, request, list(auth_ids), now)
        self._propose(header, txn, None)

    def _prep_write(self, session_id: int, cxid: int, op: int, request: Any, auth_ids: Sequence[Any],
                    now: int) -> tuple[Any, Any]:
        """A write from this server's client or a learner's: its txn (an error txn when the
        body could not be decoded; a closeSession marks the session closing first)."""
        if request is _MALFORMED:
            return self.prep.error_txn(session_id, cxid, Err.MARSHALLINGERROR, now)
        if op == OpCode.closeSession:
            self.tracker.set_closing(session_id)
        return self.prep.prep(session_id, cxid, op, request, auth_ids, now)

    def touch_from_learner(self, session_id: int) -> bool:
        """A learner saw this session (ping touches, revalidation); False if it is gone."""
        return self.tracker.touch(session_id, self.clock_ms())

    def take_touches(self) -> dict[int, int]:
        touches = self.touches
        self.touches = {}
        return touches

    def _session_closed(self, session_id: int) -> None:
        self.tracker.remove(session_id)
        conn = self.session_connections.pop(session_id, None)
        if conn is None:
            return
        state = self.connections.get(conn)
        requested = state is not None and any(op.close_after for op in state.queue)
        if not requested:
            conn.close("session expired")
            self.connection_lost(conn)

    def _drain(self, conn: Any) -> None:
        state = self.connections.get(conn)
        if state is None:
            return
        queue = state.queue
        now = self.clock_ms()
        while queue:
            head = queue[0]
            if head.is_write:
                if head.frame is None:
                    break
                frame = head.frame
            else:
                frame = self._read(conn, head)
            queue.popleft()
            self._send_reply(conn, head.op, head.xid, frame, head.received_ms, now)
            if head.close_after:
                conn.close("session closed by client")
                self.connection_lost(conn)
                return
        if state.paused and len(queue) <= self.settings.max_outstanding_per_connection // 2:
            state.paused = False
            conn.resume_reading()

    def _send_reply(self, conn: Any, op: int, xid: int, frame: bytes, received_ms: int, now_ms: int) -> None:
        latency_ms = now_ms - received_ms
        self.stats.record_latency(latency_ms)
        metrics = self.metrics
        if metrics is not None:
            (metrics.updatelatency if op in WRITE_OPS else metrics.readlatency).record(latency_ms)
            if op != OpCode.createSession:  # ZooKeeper counts replies, not ConnectResponses,
                metrics.client_response.record(len(frame) - 4)  # without the length prefix
        conn.stats.record(op, xid, latency_ms, self.tree.last_processed_zxid, now_ms)
        self.stats.packets_sent += 1
        conn.stats.packets_sent += 1
        conn.send(frame)

    def _fast_read(self, conn: Any, xid: int, op: int, frame: bytes) -> bytes | None:
        """getData and exists with nothing queued ahead: decoded and answered in place.
        None sends the request down the general path (malformed body, errors)."""
        try:
            path, off = read_ustring(frame, 8)
            watch = frame[off]
        except _FAST_READ_FAILURES:
            return None
        tree = self.tree
        node = tree.nodes.get(path)
        if node is None:
            return None
        zxid = tree.last_processed_zxid
        if op == OpCode.getData:
            if not self._readable(conn, node.acl, Perms.READ):
                return None
            if watch:
                tree.watch_data(path, conn)
            return replies.get_data(xid, zxid, node.data, node.stat_bytes())
        if watch:
            tree.watch_data(path, conn)
        return replies.stat_only(xid, zxid, node.stat_bytes())

    def _send(self, conn: Any, frame: bytes) -> None:
        self.stats.packets_sent += 1
        conn.stats.packets_sent += 1
        conn.send(frame)

    # ------------------------------------------------------------ session expiry

    def tick(self) -> None:
        """Expires sessions whose deadline has passed (closeSession txns, like the leader's)."""
        now = self.clock_ms()
        for session_id in self.tracker.expire(now):
            log.info("session expired", session=f"0x{session_id & (2**64 - 1):x}")
            if self.read_only:
                self._session_closed(session_id)
                continue
            header, txn = self.prep.prep(session_id, 0, OpCode.closeSession, None, (), now)
            self._propose(header, txn, None)

    def reap_containers(self, policy: ReaperPolicy) -> None:
        """Proposes a deleteContainer for each empty container and expired TTL node."""
        now = self.clock_ms()
        for path in reap_candidates(self.tree, now, policy):
            header, txn = self.prep.prep(0, 0, OpCode.deleteContainer, r.DeleteTxn(path), (), now)
            self._propose(header, txn, None)

    # ------------------------------------------------------------ reads

    def _read(self, conn: Any, op: PendingOp) -> bytes:
        zxid = self.tree.last_processed_zxid
        xid = op.xid
        code = op.op
        request = op.request
        if request is _MALFORMED:
            return replies.reply(xid, zxid, Err.MARSHALLINGERROR)
        tree = self.tree
        if code == OpCode.getData:
            node = tree.nodes.get(request.path)
            if node is None:
                return replies.reply(xid, zxid, Err.NONODE)
            if not self._readable(conn, node.acl, Perms.READ):
                return replies.reply(xid, zxid, Err.NOAUTH)
            if request.watch:
                tree.watch_data(request.path, conn)
            return replies.get_data(xid, zxid, node.data, node.stat_bytes())
        if code == OpCode.exists:
            if "\0" in request.path:
                return replies.reply(xid, zxid, Err.BADARGUMENTS)
            if request.watch:
                tree.watch_data(request.path, conn)
            node = tree.nodes.get(request.path)
            if node is None:
                return replies.reply(xid, zxid, Err.NONODE)
            return replies.stat_only(xid, zxid, node.stat_bytes())
        if code in (OpCode.getChildren, OpCode.getChildren2):
            node = tree.nodes.get(request.path)
            if node is None:
                return replies.reply(xid, zxid, Err.NONODE)
            if not self._readable(conn, node.acl, Perms.READ):
                return replies.reply(xid, zxid, Err.NOAUTH)
            if request.watch:
                tree.watch_children(request.path, conn)
            children = node.ordered_children()
            if code == OpCode.getChildren:
                return replies.reply(xid, zxid, 0, r.GetChildrenResponse(children))
            return replies.reply(xid, zxid, 0, r.GetChildren2Response(children, node.stat()))
        if code == OpCode.ping:
            return replies.reply(Xid.PING, zxid, 0)
        if code == OpCode.sync:
            return replies.reply(xid, zxid, 0, r.SyncResponse(request.path))
        if code == OpCode.getACL:
            return self._get_acl(conn, xid, zxid, request.path)
        if code == OpCode.multiRead:
            return replies.reply(xid, zxid, 0, replies.multi_read_body([self._multi_read_op(conn, o, q) for o, q in request]))
        if code in (OpCode.setWatches, OpCode.setWatches2):
            self._set_watches(conn, request)
            return replies.reply(xid, zxid, 0)
        if code == OpCode.addWatch:
            recursive = request.mode == AddWatchMode.PERSISTENT_RECURSIVE
            if request.mode not in (AddWatchMode.PERSISTENT, AddWatchMode.PERSISTENT_RECURSIVE):
                return replies.reply(xid, zxid, Err.MARSHALLINGERROR)
            tree.add_persistent_watch(request.path, conn, recursive)
            return replies.reply(xid, zxid, 0, r.ErrorResponse(0))
        if code in (OpCode.checkWatches, OpCode.removeWatches):
            return replies.reply(xid, zxid, self._check_or_remove_watches(conn, request, code == OpCode.removeWatches))
        if code == OpCode.getEphemerals:
            prefix = request.prefixPath or ""
            ordered = ephemerals_in_java_order(tree, conn.session_id).in_java_order()
            if prefix and prefix.strip() != "/":
                ordered = [p for p in ordered if p.startswith(prefix)]
            return replies.reply(xid, zxid, 0, r.GetEphemeralsResponse(ordered))
        if code == OpCode.getAllChildrenNumber:
            node = tree.nodes.get(request.path)
            if node is None:
                return replies.reply(xid, zxid, Err.NONODE)
            if not self._readable(conn, node.acl, Perms.READ):
                return replies.reply(xid, zxid, Err.NOAUTH)
            return replies.reply(xid, zxid, 0, r.GetAllChildrenNumberResponse(tree.all_children_number(request.path)))
        if code == OpCode.whoAmI:
            infos = [r.ClientInfo(i.scheme, acls.user_name(i)) for i in conn.auth_ids]
            return replies.reply(xid, zxid, 0, r.WhoAmIResponse(infos))
        return replies.reply(xid, zxid, Err.UNIMPLEMENTED)

    def _readable(self, conn: Any, acl: Any, perm: int) -> bool:
        return acls.check_acl(acl, perm, conn.auth_ids, self.settings.prep.skip_acl)

    def _get_acl(self, conn: Any, xid: int, zxid: int, path: str) -> bytes:
        node = self.tree.nodes.get(path)
        if node is None:
            return replies.reply(xid, zxid, Err.NONODE)
        if not self._readable(conn, node.acl, Perms.READ | Perms.ADMIN):
            return replies.reply(xid, zxid, Err.NOAUTH)
        acl = node.acl
        if not self._readable(conn, acl, Perms.ADMIN):
            acl = [r.ACL(a.perms, r.Id(a.id.scheme, a.id.id.split(":", 1)[0] + ":x"))
                   if a.id.scheme == "digest" else a for a in acl]
        return replies.reply(xid, zxid, 0, r.GetACLResponse(acl, node.stat()))

    def _multi_read_op(self, conn: Any, op: int, request: Any) -> tuple[int, int, Any]:
        node = self.tree.nodes.get(request.path)
        if node is None:
            return op, Err.NONODE, None
        if not self._readable(conn, node.acl, Perms.READ):
            return op, Err.NOAUTH, None
        if op == OpCode.getData:
            if request.watch:
                self.tree.watch_data(request.path, conn)
            return op, 0, r.GetDataResponse(node.data, node.stat())
        if request.watch:
            self.tree.watch_children(request.path, conn)
        return op, 0, r.GetChildrenResponse(node.ordered_children())

    def _set_watches(self, conn: Any, request: Any) -> None:
        """DataTree.setWatches: re-arm watches, firing at once what changed since relativeZxid."""
        tree = self.tree
        rel = request.relativeZxid
        zxid = tree.last_processed_zxid
        for path in request.dataWatches or ():
            node = tree.nodes.get(path)
            if node is None:
                self._send(conn, replies.notification(EventType.NodeDeleted, path, zxid))
            elif node.mzxid > rel:
                self._send(conn, replies.notification(EventType.NodeDataChanged, path, zxid))
            else:
                tree.watch_data(path, conn)
        for path in request.existWatches or ():
            if path in tree.nodes:
                self._send(conn, replies.notification(EventType.NodeCreated, path, zxid))
            else:
                tree.watch_data(path, conn)
        for path in request.childWatches or ():
            node = tree.nodes.get(path)
            if node is None:
                self._send(conn, replies.notification(EventType.NodeDeleted, path, zxid))
            elif node.pzxid > rel:
                self._send(conn, replies.notification(EventType.NodeChildrenChanged, path, zxid))
            else:
                tree.watch_children(path, conn)
        for path in getattr(request, "persistentWatches", None) or ():
            tree.add_persistent_watch(path, conn, recursive=False)
        for path in getattr(request, "persistentRecursiveWatches", None) or ():
            tree.add_persistent_watch(path, conn, recursive=True)

    def _check_or_remove_watches(self, conn: Any, request: Any, remove: bool) -> int:
        tree = self.tree
        path = request.path
        kind = request.type
        managers = []
        if kind in (WatcherType.Children, WatcherType.Any):
            managers.append((tree.child_watches, STANDARD))
        if kind in (WatcherType.Data, WatcherType.Any):
            managers.append((tree.data_watches, STANDARD))
        if kind in (WatcherType.Persistent, WatcherType.Any):
            managers.append((tree.data_watches, PERSISTENT))
            managers.append((tree.child_watches, PERSISTENT))
        if kind in (WatcherType.PersistentRecursive, WatcherType.Any):
            managers.append((tree.data_watches, RECURSIVE))
            managers.append((tree.child_watches, RECURSIVE))
        found = False
        for manager, mask in managers:
            if remove:
                found = manager.remove(path, conn, mask) or found
            else:
                found = manager.contains(path, conn, mask) or found
        return Err.OK if found else Err.NOWATCHER


_MALFORMED = object()


def add_auth_id(conn: Any, ident: Any) -> None:
    """A connection's ids form a set kept in ConcurrentHashMap order (ServerCnxn.authInfo):
    the order `auth` ACLs expand in and whoAmI lists them in."""
    if ident in conn.auth_ids:
        return
    ids = [*conn.auth_ids, ident]
    conn.auth_ids[:] = concurrent_hashmap_order(ids, (java_record_hash(i.scheme, i.id) for i in ids))
