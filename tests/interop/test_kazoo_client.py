"""kazoo against a real `bin/zkpy-server` process on loopback."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError,
    NoAuthError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
)
from kazoo.protocol.states import EventType, KazooState
from kazoo.security import make_acl, make_digest_acl

from tests.support.rawclient import RawClient
from tests.support.servers import ZkpyServer, four_letter_word
from zkpy.datatree.acl import OPEN_ACL_UNSAFE
from zkpy.jute import records as r
from zkpy.jute.constants import CreateMode, OpCode

pytestmark = pytest.mark.interop


@pytest.fixture
def client(zkpy_server: ZkpyServer) -> Iterator[KazooClient]:
    zk = KazooClient(zkpy_server.address, timeout=10)
    zk.start(timeout=10)
    try:
        yield zk
    finally:
        zk.stop()
        zk.close()


def unique(prefix: str) -> str:
    return f"/{prefix}-{time.monotonic_ns()}"


def test_crud_round_trip(client: KazooClient) -> None:
    path = unique("crud")
    assert client.create(path, b"hello") == path
    data, stat = client.get(path)
    assert data == b"hello" and stat.version == 0 and stat.dataLength == 5
    stat = client.set(path, b"world")
    assert stat.version == 1
    with pytest.raises(BadVersionError):
        client.set(path, b"x", version=0)
    client.create(f"{path}/child")
    with pytest.raises(NotEmptyError):
        client.delete(path)
    assert client.get_children(path) == ["child"]
    children, stat = client.get_children(path, include_data=True)
    assert stat.numChildren == 1
    client.delete(path, recursive=True)
    assert client.exists(path) is None
    with pytest.raises(NoNodeError):
        client.get(path)
    with pytest.raises(NodeExistsError):
        client.create("/zookeeper")


def test_create_modes_and_create2(client: KazooClient) -> None:
    base = unique("modes")
    client.create(base)
    seq1 = client.create(f"{base}/s-", sequence=True)
    seq2 = client.create(f"{base}/s-", ephemeral=True, sequence=True)
    assert seq1.endswith("0000000000") and seq2.endswith("0000000001")
    path, stat = client.create(f"{base}/e", ephemeral=True, include_data=True)
    assert stat.ephemeralOwner == client.client_id[0]
    client.ensure_path(f"{base}/deep/er/path")
    assert client.exists(f"{base}/deep/er/path") is not None


def test_one_shot_watches(client: KazooClient, zkpy_server: ZkpyServer) -> None:
    path = unique("watch")
    client.create(path, b"0")
    events: list[tuple[str, str]] = []
    got = threading.Event()

    def record(event: object) -> None:
        events.append((event.type, event.path))  # type: ignore[attr-defined]
        got.set()

    other = KazooClient(zkpy_server.address, timeout=10)
    other.start(timeout=10)
    try:
        other.get(path, watch=record)
        client.set(path, b"1")
        assert got.wait(5)
        client.set(path, b"2")
        other.get_children(path, watch=record)
        client.create(f"{path}/c")
        other.exists(f"{path}/later", watch=record)
        client.create(f"{path}/later")
        time.sleep(0.3)
    finally:
        other.stop()
        other.close()
    assert events == [
        (EventType.CHANGED, path),
        (EventType.CHILD, path),
        (EventType.CREATED, f"{path}/later"),
    ]


def test_transaction(client: KazooClient) -> None:
    path = unique("txn")
    client.create(path)
    tx = client.transaction()
    tx.create(f"{path}/a")
    tx.check(path, 7)
    results = tx.commit()
    assert isinstance(results[0], RolledBackError) and isinstance(results[1], BadVersionError)
    assert client.exists(f"{path}/a") is None
    tx = client.transaction()
    tx.create(f"{path}/a", b"x")
    tx.set_data(path, b"y")
    tx.delete(f"{path}/a")
    created, set_stat, deleted = tx.commit()
    assert (created, set_stat.version, set_stat.numChildren, deleted) == (f"{path}/a", 1, 1, True)


def test_digest_acl(client: KazooClient, zkpy_server: ZkpyServer) -> None:
    path = unique("acl")
    client.add_auth("digest", "alice:secret")
    client.create(path, b"x", acl=[make_digest_acl("alice", "secret", all=True), make_acl("world", "anyone", read=True)])
    stranger = KazooClient(zkpy_server.address, timeout=10)
    stranger.start(timeout=10)
    try:
        with pytest.raises(NoAuthError):
            stranger.set(path, b"y")
        acl, _ = stranger.get_acls(path)
        assert acl[0].id.id == "alice:x"
    finally:
        stranger.stop()
        stranger.close()
    assert client.get(path)[0] == b"x"


def test_session_expiry_removes_ephemerals(zkpy_server: ZkpyServer, client: KazooClient) -> None:
    doomed = KazooClient(zkpy_server.address, timeout=4)
    doomed.start(timeout=10)
    path = unique("eph")
    doomed.create(path, ephemeral=True)
    deleted = threading.Event()
    client.exists(path, watch=lambda e: deleted.set() if e.type == EventType.DELETED else None)
    states: list[str] = []
    doomed.add_listener(states.append)
    # Same session through a second handle, then closed: the server ends the session.
    twin = KazooClient(zkpy_server.address, client_id=doomed.client_id, timeout=4)
    twin.start(timeout=10)
    twin.stop()
    twin.close()
    assert deleted.wait(10)
    assert client.exists(path) is None
    deadline = time.monotonic() + 15
    while KazooState.LOST not in states and time.monotonic() < deadline:
        time.sleep(0.1)
    assert KazooState.LOST in states
    doomed.stop()
    doomed.close()


def test_idle_session_expires_after_its_timeout(zkpy_server: ZkpyServer, client: KazooClient) -> None:
    """A client that stops pinging loses its session once the negotiated timeout passes."""
    idle = RawClient(zkpy_server.port, timeout_ms=4000)
    path = unique("idle")
    header, _ = idle.call(OpCode.create, r.CreateRequest(path, b"", OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL))
    assert header.err == 0
    assert client.exists(path).ephemeralOwner == idle.session[0]
    deadline = time.monotonic() + 12
    while client.exists(path) is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert client.exists(path) is None
    idle.drop()


def test_reconnect_keeps_session(zkpy_server: ZkpyServer, client: KazooClient) -> None:
    first = RawClient(zkpy_server.port)
    path = unique("keep")
    header, _ = first.call(OpCode.create, r.CreateRequest(path, b"", OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL))
    assert header.err == 0
    session_id, password = first.session
    first.drop()
    second = RawClient(zkpy_server.port, session_id=session_id, password=password)
    assert second.session == (session_id, password)
    assert client.exists(path).ephemeralOwner == session_id
    header, _ = second.call(OpCode.closeSession)
    assert header.err == 0
    assert client.exists(path) is None
    wrong = RawClient(zkpy_server.port, session_id=session_id, password=password)
    assert wrong.connect_response.timeOut == 0 and wrong.connect_response.sessionId == 0


def test_four_letter_words(zkpy_server: ZkpyServer) -> None:
    assert four_letter_word(zkpy_server.port, "ruok") == "imok"
    srvr = four_letter_word(zkpy_server.port, "srvr")
    assert "Mode: standalone" in srvr and srvr.startswith("Zookeeper version: 3.9")


def test_oversized_frame_closes_only_that_connection(zkpy_server: ZkpyServer, client: KazooClient) -> None:
    sock = socket.create_connection(("127.0.0.1", zkpy_server.port))
    sock.sendall(struct.pack(">i", 0x100000) + b"\x00" * 64)
    sock.settimeout(5)
    assert sock.recv(16) == b""
    sock.close()
    garbage = socket.create_connection(("127.0.0.1", zkpy_server.port))
    garbage.sendall(struct.pack(">i", 3) + b"abc")
    garbage.settimeout(5)
    assert garbage.recv(16) == b""
    garbage.close()
    assert client.exists("/zookeeper") is not None
