"""Runs one example of random ops (tests.interop.random_ops) against one server and writes down
everything it answered as text lines, so that two servers can be compared line by line.

The lines leave out only what legitimately differs between two servers: session ids and
passwords (sessions are named S0, S1, ... in the order the example opened them, and
ephemeralOwner shows that name, "container" or "-"), times (ctime/mtime are dropped), absolute
zxids (every zxid is printed relative to the zxid that created the example's root, so both
servers count from +0), and the header zxid of watch notifications (ZooKeeper 3.8 sends -1 there,
3.9 the zxid of the txn that fired the watch). Everything else is kept: error codes, reply header
zxids, versions, cversion, aversion, pzxid, numChildren, dataLength, child order, ACLs, per-op
multi results, which watch events arrive before which reply, and any bytes left over after a
reply's body.

An example runs like this: an admin session (authenticated as the super user, so it may read and
delete anything) creates the example's home `/hyp-N` and the root `$R` = `/hyp-N/r` inside it
(so even a sequential create of `$R` itself lands in a parent private to the example); S0 and S1
connect; the steps run; every session is pinged so that pending watch events are collected; the
admin dumps the subtree; the sessions are closed one by one (ephemerals vanish, watchers on the
other sessions fire); the admin dumps again and then deletes the subtree.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from tests.interop import random_ops as ro
from zkpy.jute import records as r
from zkpy.jute.constants import CONTAINER_EPHEMERAL_OWNER, Err, EventType, OpCode

SESSION_TIMEOUT_MS = 30_000
SOCKET_TIMEOUT_S = 10.0
AUTH_XID = -4
PING_XID = -2
NOTIFICATION_XID = -1

KNOWN_DIGESTS = {ro.digest_id(user, pw): f"<{user}>" for user, pw in ro.USERS.items()}
KNOWN_DIGESTS[ro.digest_id("alice", "wrong")] = "<alice/wrong>"
KNOWN_DIGESTS[ro.super_digest()] = "<super>"


class ProtocolBroken(Exception):
    """The connection died or answered out of order; the rest of the example is meaningless."""


def err_name(code: int) -> str:
    try:
        return Err.name_of(code)
    except ValueError:
        return str(code)


def event_name(code: int) -> str:
    try:
        return EventType.name_of(code)
    except ValueError:
        return str(code)


def digest_auth(user: str, password: str) -> bytes:
    return r.AuthPacket(0, "digest", f"{user}:{password}".encode()).to_bytes()


class Conn:
    """One client connection: framing, the handshake, xids, and reading replies in order while
    collecting the watch events that arrive in between."""

    def __init__(self, port: int, session_id: int = 0, password: bytes = bytes(16)) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S)
        body = r.ConnectRequest(0, 0, SESSION_TIMEOUT_MS, session_id, password).to_bytes() + b"\x00"
        self.sock.sendall(struct.pack(">i", len(body)) + body)
        frame = self.recv_frame()
        self.connect_response = r.ConnectResponse.from_bytes(frame)
        self.connect_frame_len = len(frame)
        self.xid = 0
        self.events: list[Any] = []

    @property
    def session_id(self) -> int:
        return int(self.connect_response.sessionId)

    def next_xid(self) -> int:
        self.xid += 1
        return self.xid

    @staticmethod
    def frame(xid: int, opcode: int, body: bytes) -> bytes:
        payload = r.RequestHeader(xid, opcode).to_bytes() + body
        return struct.pack(">i", len(payload)) + payload

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise ProtocolBroken(f"send failed: {exc!r}") from exc

    def _recv_exact(self, count: int) -> bytes:
        data = bytearray()
        while len(data) < count:
            try:
                chunk = self.sock.recv(count - len(data))
            except OSError as exc:
                raise ProtocolBroken(f"recv failed: {exc!r}") from exc
            if not chunk:
                raise ProtocolBroken("connection closed by server")
            data += chunk
        return bytes(data)

    def recv_frame(self) -> bytes:
        (length,) = struct.unpack(">i", self._recv_exact(4))
        return self._recv_exact(length)

    def read_reply(self, xid: int) -> tuple[Any, bytes, int, list[Any]]:
        """The reply for `xid` (which must be the next one), and the events read before it."""
        events: list[Any] = []
        while True:
            frame = self.recv_frame()
            header, off = r.ReplyHeader.decode(frame, 0)
            if header.xid == NOTIFICATION_XID:
                events.append(r.WatcherEvent.decode(frame, off)[0])
                continue
            if header.xid != xid:
                raise ProtocolBroken(f"expected reply xid {xid}, got {header.xid} err={header.err}")
            return header, frame, off, events

    def close_socket(self) -> None:
        self.sock.close()


class ExampleRun:
    def __init__(self, port: int, home: str) -> None:
        self.port = port
        self.home = home
        self.root = home + "/r"
        self.lines: list[str] = []
        self.labels: dict[int, str] = {}
        self.base_zxid = 0
        self.last_created: str | None = None
        self.admin: Conn | None = None
        self.sessions: list[Conn | None] = []

    # -- normalisation -----------------------------------------------------------------------

    def rel(self, zxid: int) -> str:
        return f"{zxid - self.base_zxid:+d}"

    def path(self, value: str | None) -> str:
        if value is None:
            return "None"
        if value == self.root:
            return ro.ROOT
        if value.startswith(self.root + "/"):
            return ro.ROOT + value[len(self.root):]
        if value == self.home:
            return ro.HOME
        if value.startswith(self.home + "/"):
            return ro.HOME + value[len(self.home):]
        return repr(value)

    def owner(self, ephemeral_owner: int) -> str:
        if ephemeral_owner == 0:
            return "-"
        if ephemeral_owner == CONTAINER_EPHEMERAL_OWNER:
            return "container"
        return self.labels.get(ephemeral_owner, f"?{ephemeral_owner:#x}")

    def stat(self, s: Any) -> str:
        return (f"[cz={self.rel(s.czxid)} mz={self.rel(s.mzxid)} pz={self.rel(s.pzxid)} "
                f"v={s.version} cv={s.cversion} av={s.aversion} "
                f"owner={self.owner(s.ephemeralOwner)} len={s.dataLength} n={s.numChildren}]")

    @staticmethod
    def acl(acls: list[Any] | None) -> str:
        if acls is None:
            return "None"
        return "[" + ", ".join(
            f"{a.perms}:{a.id.scheme}:{KNOWN_DIGESTS.get(a.id.id, a.id.id)}" for a in acls
        ) + "]"

    def events(self, events: list[Any]) -> str:
        return " ".join(f"{event_name(e.type)}({e.state}):{self.path(e.path)}" for e in events)

    def body(self, opcode: int, frame: bytes, off: int) -> tuple[str, int]:
        """The body of a successful reply to `opcode` as text, and where it ended."""
        if opcode == OpCode.create:
            rec, off = r.CreateResponse.decode(frame, off)
            self.last_created = rec.path
            return f"path={self.path(rec.path)}", off
        if opcode in (OpCode.create2, OpCode.createContainer, OpCode.createTTL):
            rec, off = r.Create2Response.decode(frame, off)
            self.last_created = rec.path
            return f"path={self.path(rec.path)} {self.stat(rec.stat)}", off
        if opcode in (OpCode.exists, OpCode.setData, OpCode.setACL):
            rec, off = r.ExistsResponse.decode(frame, off)
            return self.stat(rec.stat), off
        if opcode == OpCode.getData:
            rec, off = r.GetDataResponse.decode(frame, off)
            return f"data={rec.data!r} {self.stat(rec.stat)}", off
        if opcode == OpCode.getChildren:
            rec, off = r.GetChildrenResponse.decode(frame, off)
            return f"children={rec.children}", off
        if opcode == OpCode.getChildren2:
            rec, off = r.GetChildren2Response.decode(frame, off)
            return f"children={rec.children} {self.stat(rec.stat)}", off
        if opcode == OpCode.getACL:
            rec, off = r.GetACLResponse.decode(frame, off)
            return f"acl={self.acl(rec.acl)} {self.stat(rec.stat)}", off
        if opcode == OpCode.sync:
            rec, off = r.SyncResponse.decode(frame, off)
            return f"path={self.path(rec.path)}", off
        if opcode == OpCode.getAllChildrenNumber:
            rec, off = r.GetAllChildrenNumberResponse.decode(frame, off)
            return f"total={rec.totalNumber}", off
        if opcode == OpCode.getEphemerals:
            rec, off = r.GetEphemeralsResponse.decode(frame, off)
            return f"ephemerals={[self.path(p) for p in rec.ephemerals or []]}", off
        if opcode == OpCode.whoAmI:
            rec, off = r.WhoAmIResponse.decode(frame, off)
            infos = [f"{c.authScheme}:{KNOWN_DIGESTS.get(c.user, c.user)}"
                     for c in rec.clientInfo or []]
            return f"whoami={infos}", off
        if opcode in (OpCode.multi, OpCode.multiRead):
            return self.multi_body(frame, off)
        return "", off

    def multi_body(self, frame: bytes, off: int) -> tuple[str, int]:
        results: list[str] = []
        while True:
            header, off = r.MultiHeader.decode(frame, off)
            if header.done:
                results.append(f"end({header.type},{header.err})")
                return "results=[" + "; ".join(results) + "]", off
            if header.type == OpCode.error:
                rec, off = r.ErrorResponse.decode(frame, off)
                results.append(f"error h.err={err_name(header.err)} err={err_name(rec.err)}")
                continue
            text, off = self.body(header.type, frame, off)
            results.append(f"{header.type} h.err={err_name(header.err)} {text}".rstrip())

    def reply(self, opcode: int, header: Any, frame: bytes, off: int) -> str:
        # An auth reply carries zxid 0 itself rather than the server's last zxid.
        zxid = str(header.zxid) if opcode == OpCode.auth else self.rel(header.zxid)
        text = f"err={err_name(header.err)} hz={zxid}"
        if header.err == 0:
            try:
                body, off = self.body(opcode, frame, off)
            except Exception as exc:  # noqa: BLE001 - an undecodable body is itself the finding
                return f"{text} UNDECODABLE {exc!r} raw={frame[off:].hex()}"
            text = f"{text} {body}".rstrip()
        if off < len(frame):
            text += f" trailing={frame[off:].hex()}"
        return text

    # -- sessions ----------------------------------------------------------------------------

    def connect(self) -> Conn:
        conn = Conn(self.port)
        label = f"S{sum(1 for v in self.labels.values() if v.startswith('S'))}"
        self.labels[conn.session_id] = label
        resp = conn.connect_response
        self.lines.append(f"connect {label} timeout={resp.timeOut} passwd_len={len(resp.passwd)} "
                          f"frame_len={conn.connect_frame_len}")
        return conn

    def label(self, conn: Conn) -> str:
        return self.labels.get(conn.session_id, "?")

    def call(self, conn: Conn, opcode: int, body: bytes,
             xid: int | None = None) -> tuple[Any, bytes, int, list[Any]]:
        xid = conn.next_xid() if xid is None else xid
        conn.send(Conn.frame(xid, opcode, body))
        return conn.read_reply(xid)

    def log(self, tag: str, conn: Conn, what: str, events: list[Any], reply: str) -> None:
        if events:
            self.lines.append(f"{tag} {self.label(conn)} events: {self.events(events)}")
        self.lines.append(f"{tag} {self.label(conn)} {what} -> {reply}")

    def close_session(self, conn: Conn, tag: str) -> None:
        header, frame, off, events = self.call(conn, OpCode.closeSession, b"")
        reply = self.reply(OpCode.closeSession, header, frame, off)
        self.log(tag, conn, "closeSession", events, reply)
        conn.close_socket()

    def drain(self, conn: Conn, tag: str) -> None:
        """A ping is answered after every event already queued for this connection."""
        _, _, _, events = self.call(conn, OpCode.ping, b"", xid=PING_XID)
        if events:
            self.lines.append(f"{tag} {self.label(conn)} events: {self.events(events)}")

    # -- the example -------------------------------------------------------------------------

    def run(self, steps: list[ro.Step]) -> list[str]:
        """The transcript of `steps`, run under a fresh `home` that must not exist yet."""
        self.admin = Conn(self.port)
        self.labels[self.admin.session_id] = "admin"
        header, *_ = self.call(self.admin, OpCode.auth,
                               digest_auth(ro.SUPER_USER, ro.SUPER_PASSWORD), xid=AUTH_XID)
        assert header.err == 0, f"super auth failed: {header.err}"
        for node in (self.home, self.root):
            create = r.CreateRequest(node, b"", ro.ACLS["open"], 0).to_bytes()
            header, *_ = self.call(self.admin, OpCode.create, create)
            assert header.err == 0, f"could not create {node}: {err_name(header.err)}"
        self.base_zxid = header.zxid
        try:
            self.sessions = [self.connect() for _ in range(ro.SESSIONS)]
            for index, step in enumerate(steps):
                self.step(index, step)
            self.finish()
        except ProtocolBroken as exc:
            self.lines.append(f"BROKEN: {exc}")
            self.abandon_sessions()
        except BaseException:
            self.abandon_sessions()
            raise
        finally:
            self.cleanup()
        return self.lines

    def step(self, index: int, step: ro.Step) -> None:
        conn = self.sessions[step.session]
        assert conn is not None
        op = step.op
        tag = f"#{index}"
        if isinstance(op, ro.Batch):
            sent: list[tuple[int, int, Any]] = []
            data = bytearray()
            for sub in op.ops:
                opcode, body = ro.request(sub, self.root, self.last_created)
                xid = conn.next_xid()
                data += Conn.frame(xid, opcode, body)
                sent.append((xid, opcode, sub))
            conn.send(bytes(data))
            for sub_index, (xid, opcode, sub) in enumerate(sent):
                header, frame, off, events = conn.read_reply(xid)
                reply = self.reply(opcode, header, frame, off)
                self.log(f"{tag}.{sub_index}", conn, repr(sub), events, reply)
        elif isinstance(op, ro.Auth):
            body = digest_auth(op.user, op.password)
            header, frame, off, events = self.call(conn, OpCode.auth, body, xid=AUTH_XID)
            self.log(tag, conn, repr(op), events, self.reply(OpCode.auth, header, frame, off))
        elif isinstance(op, ro.CloseSession):
            self.close_session(conn, tag)
            self.sessions[step.session] = self.connect()
        else:
            opcode, body = ro.request(op, self.root, self.last_created)
            header, frame, off, events = self.call(conn, opcode, body)
            self.log(tag, conn, repr(op), events, self.reply(opcode, header, frame, off))

    def finish(self) -> None:
        for conn in self.sessions:
            assert conn is not None
            self.drain(conn, "end")
        self.dump("after-ops")
        for index, conn in enumerate(self.sessions):
            assert conn is not None
            self.close_session(conn, "end")
            self.sessions[index] = None
            for other in self.sessions:
                if other is not None:
                    self.drain(other, "end")
        self.dump("after-close")

    def dump(self, title: str) -> None:
        assert self.admin is not None
        pending = [self.home]
        while pending:
            node = pending.pop(0)
            header, frame, off, _ = self.call(
                self.admin, OpCode.getChildren2, r.GetChildrenRequest(node, False).to_bytes())
            if header.err:
                self.lines.append(f"{title} {self.path(node)} err={err_name(header.err)}")
                continue
            children = r.GetChildren2Response.decode(frame, off)[0].children or []
            header, frame, off, _ = self.call(
                self.admin, OpCode.getData, r.GetDataRequest(node, False).to_bytes())
            data = r.GetDataResponse.decode(frame, off)[0] if header.err == 0 else None
            header, frame, off, _ = self.call(
                self.admin, OpCode.getACL, r.GetACLRequest(node).to_bytes())
            acl = r.GetACLResponse.decode(frame, off)[0].acl if header.err == 0 else None
            described = (f"data={data.data!r} {self.stat(data.stat)}" if data is not None
                         else "getData failed")
            self.lines.append(f"{title} {self.path(node)} {described} acl={self.acl(acl)} "
                              f"children={children}")
            pending[:0] = [f"{node}/{child}" for child in children]

    def abandon_sessions(self) -> None:
        """After a broken connection: close every session this example opened, so none of them
        expires later in the middle of another example and shifts its zxids."""
        for index, conn in enumerate(self.sessions):
            if conn is None:
                continue
            conn.close_socket()
            try:
                again = Conn(self.port, conn.session_id, conn.connect_response.passwd)
                self.call(again, OpCode.closeSession, b"")
                again.close_socket()
            except (ProtocolBroken, OSError):
                pass
            self.sessions[index] = None

    def cleanup(self) -> None:
        """Deletes the example's subtree as the super user, deepest nodes first."""
        admin = self.admin
        if admin is None:
            return
        try:
            order: list[str] = []
            pending = [self.home]
            while pending:
                node = pending.pop()
                order.append(node)
                header, frame, off, _ = self.call(
                    admin, OpCode.getChildren, r.GetChildrenRequest(node, False).to_bytes())
                if header.err == 0:
                    children = r.GetChildrenResponse.decode(frame, off)[0].children or []
                    pending.extend(f"{node}/{child}" for child in children)
            for node in reversed(order):
                self.call(admin, OpCode.delete, r.DeleteRequest(node, -1).to_bytes())
            self.call(admin, OpCode.closeSession, b"")
        except ProtocolBroken:
            pass
        finally:
            admin.close_socket()
            self.admin = None
