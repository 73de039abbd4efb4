"""Scenario tests of the request pipeline, driven through plain calls with a fake clock."""

from __future__ import annotations

from zkpy.datatree.acl import OPEN_ACL_UNSAFE, digest_of
from zkpy.jute import records as r
from zkpy.jute.constants import CreateMode, Err, EventType, OpCode
from zkpy.server.java_random import session_password

from tests.server.fakes import Harness


def create_req(path: str, data: bytes = b"", mode: int = CreateMode.PERSISTENT, acl: list | None = None) -> r.CreateRequest:
    return r.CreateRequest(path, data, OPEN_ACL_UNSAFE if acl is None else acl, int(mode))


def test_handshake_with_and_without_readonly_byte_and_timeout_clamping() -> None:
    h = Harness(tick_ms=2000, min_session_timeout_ms=4000, max_session_timeout_ms=40000, server_id=1)
    _, with_byte = h.connect(timeout_ms=100, readonly_byte=True)
    assert with_byte.timeOut == 4000
    assert with_byte.passwd == session_password(with_byte.sessionId)
    assert with_byte.sessionId >> 56 == 1
    _, without = h.connect(timeout_ms=10**6, readonly_byte=False)
    assert without.timeOut == 40000
    assert without.sessionId == with_byte.sessionId + 1


def test_reconnect_with_password_and_refusal_with_wrong_one() -> None:
    h = Harness()
    conn, response = h.connect()
    again, response2 = h.connect(session_id=response.sessionId, password=response.passwd)
    assert response2.sessionId == response.sessionId and response2.timeOut == response.timeOut
    assert conn.closed is not None
    bad, refused = h.connect(session_id=response.sessionId, password=b"x" * 16)
    assert (refused.sessionId, refused.timeOut, refused.passwd) == (0, 0, bytes(16))
    assert bad.closed is not None


def test_client_that_saw_a_newer_zxid_is_refused() -> None:
    h = Harness()
    conn, response = h.connect(last_zxid=1000)
    assert response is None and conn.closed is not None


def test_crud_and_error_codes() -> None:
    h = Harness()
    conn, _ = h.connect()
    hdr, body = h.call(conn, OpCode.create, create_req("/a", b"v"), r.CreateResponse)
    assert hdr.err == 0 and body.path == "/a" and hdr.zxid == 2
    hdr, _ = h.call(conn, OpCode.create, create_req("/a"))
    assert hdr.err == Err.NODEEXISTS and hdr.zxid == 3, "a failed write still takes a zxid"
    hdr, _ = h.call(conn, OpCode.create, create_req("/x/y"))
    assert hdr.err == Err.NONODE
    hdr, _ = h.call(conn, OpCode.create, create_req("/a/"))
    assert hdr.err == Err.BADARGUMENTS
    hdr, body = h.call(conn, OpCode.getData, r.GetDataRequest("/a", False), r.GetDataResponse)
    assert body.data == b"v" and body.stat.version == 0
    hdr, _ = h.call(conn, OpCode.setData, r.SetDataRequest("/a", b"w", 7))
    assert hdr.err == Err.BADVERSION
    hdr, body = h.call(conn, OpCode.setData, r.SetDataRequest("/a", b"w", 0), r.SetDataResponse)
    assert body.stat.version == 1
    h.call(conn, OpCode.create, create_req("/a/b"))
    hdr, _ = h.call(conn, OpCode.delete, r.DeleteRequest("/a", -1))
    assert hdr.err == Err.NOTEMPTY
    hdr, _ = h.call(conn, OpCode.delete, r.DeleteRequest("/a/b", 5))
    assert hdr.err == Err.BADVERSION
    hdr, _ = h.call(conn, OpCode.delete, r.DeleteRequest("/zookeeper", -1))
    assert hdr.err == Err.BADARGUMENTS
    hdr, _ = h.call(conn, OpCode.exists, r.ExistsRequest("/nope", False))
    assert hdr.err == Err.NONODE


def test_sequential_names_use_parent_cversion_and_ephemeral_parent_refuses_children() -> None:
    h = Harness()
    conn, response = h.connect()
    h.call(conn, OpCode.create, create_req("/q"))
    _, first = h.call(conn, OpCode.create, create_req("/q/n-", mode=CreateMode.PERSISTENT_SEQUENTIAL), r.CreateResponse)
    _, second = h.call(conn, OpCode.create2, create_req("/q/n-", mode=CreateMode.EPHEMERAL_SEQUENTIAL), r.Create2Response)
    assert (first.path, second.path) == ("/q/n-0000000000", "/q/n-0000000001")
    assert second.stat.ephemeralOwner == response.sessionId
    hdr, _ = h.call(conn, OpCode.create, create_req("/q/n-0000000001/child"))
    assert hdr.err == Err.NOCHILDRENFOREPHEMERALS


def test_pipelined_writes_see_each_other_before_commit() -> None:
    """Prep validates against outstanding changes, not only the applied tree."""
    h = Harness()
    conn, _ = h.connect()
    h.request(conn, OpCode.create, create_req("/p"))
    h.request(conn, OpCode.create, create_req("/p/c"))
    h.request(conn, OpCode.setData, r.SetDataRequest("/p", b"1", 0))
    h.request(conn, OpCode.setData, r.SetDataRequest("/p", b"2", 1))
    h.request(conn, OpCode.delete, r.DeleteRequest("/p", -1))
    h.request(conn, OpCode.getData, r.GetDataRequest("/p", False))
    assert conn.take() == [], "nothing may be answered before the writes commit"
    h.commit()
    headers = [r.ReplyHeader.decode(f, 0)[0] for f in conn.take()]
    assert [hd.xid for hd in headers] == [1, 2, 3, 4, 5, 6]
    assert [hd.err for hd in headers] == [0, 0, 0, 0, Err.NOTEMPTY, 0]


def test_multi_all_or_nothing_with_zookeepers_per_op_results() -> None:
    h = Harness()
    conn, _ = h.connect()
    h.call(conn, OpCode.create, create_req("/m"))
    ops = bytearray()
    for op, rec in [(OpCode.create, create_req("/m/a")), (OpCode.check, r.CheckVersionRequest("/m", 3)),
                    (OpCode.setData, r.SetDataRequest("/m", b"", -1))]:
        r.MultiHeader(op, False, -1).encode(ops)
        rec.encode(ops)
    r.MultiHeader(-1, True, -1).encode(ops)
    h.request(conn, OpCode.multi, bytes(ops))
    h.commit()
    (frame,) = conn.take()
    hdr, off = r.ReplyHeader.decode(frame, 0)
    results = []
    while True:
        mh, off = r.MultiHeader.decode(frame, off)
        if mh.done:
            break
        err, off = r.ErrorResponse.decode(frame, off)
        results.append((mh.type, err.err))
    assert results == [(-1, 0), (-1, Err.BADVERSION), (-1, Err.RUNTIMEINCONSISTENCY)]
    assert "/m/a" not in h.server.tree.nodes
    _, again = h.call(conn, OpCode.create, create_req("/m/b"), r.CreateResponse)
    assert again.path == "/m/b"


def test_watches_are_delivered_before_the_write_reply_and_fire_once() -> None:
    h = Harness()
    writer, _ = h.connect()
    watcher, _ = h.connect()
    h.call(writer, OpCode.create, create_req("/w"))
    h.call(watcher, OpCode.getData, r.GetDataRequest("/w", True))
    h.call(watcher, OpCode.exists, r.ExistsRequest("/w/new", True))
    h.request(writer, OpCode.setData, r.SetDataRequest("/w", b"1", -1))
    h.request(writer, OpCode.create, create_req("/w/new"))
    h.commit()
    events = [r.WatcherEvent.decode(f, 16)[0] for f in watcher.take()]
    assert [(e.type, e.path) for e in events] == [(EventType.NodeDataChanged, "/w"), (EventType.NodeCreated, "/w/new")]
    writer.take()
    h.call(writer, OpCode.setData, r.SetDataRequest("/w", b"2", -1))
    assert watcher.take() == []


def test_session_expiry_removes_ephemerals_and_notifies_watchers() -> None:
    h = Harness(tick_ms=2000, min_session_timeout_ms=4000, max_session_timeout_ms=40000)
    owner, response = h.connect(timeout_ms=4000)
    other, _ = h.connect(timeout_ms=40000)
    h.call(owner, OpCode.create, create_req("/eph", mode=CreateMode.EPHEMERAL))
    h.call(other, OpCode.exists, r.ExistsRequest("/eph", True))
    h.clock.now_ms += 3000
    h.server.tick()
    h.commit()
    assert "/eph" in h.server.tree.nodes, "not yet expired"
    h.clock.now_ms += 4000
    h.server.tick()
    h.commit()
    assert "/eph" not in h.server.tree.nodes
    assert response.sessionId not in h.server.tree.sessions
    assert owner.closed is not None
    (event_frame,) = other.take()
    assert r.WatcherEvent.decode(event_frame, 16)[0].type == EventType.NodeDeleted
    refused, refusal = h.connect(session_id=response.sessionId, password=response.passwd)
    assert refusal.timeOut == 0 and refused.closed is not None


def test_close_session_replies_then_closes() -> None:
    h = Harness()
    conn, _ = h.connect()
    h.call(conn, OpCode.create, create_req("/e", mode=CreateMode.EPHEMERAL))
    hdr, _ = h.call(conn, OpCode.closeSession)
    assert hdr.err == 0 and conn.closed is not None
    assert "/e" not in h.server.tree.nodes


def test_digest_auth_acl_checks_and_getacl_hides_hashes() -> None:
    h = Harness()
    owner, _ = h.connect()
    stranger, _ = h.connect()
    h.request(owner, OpCode.auth, r.AuthPacket(0, "digest", b"alice:secret"))
    assert r.ReplyHeader.decode(owner.take()[0], 0)[0].err == 0
    digest_id = r.Id("digest", digest_of("alice:secret"))
    acl = [r.ACL(31, digest_id), r.ACL(1, r.Id("world", "anyone"))]
    hdr, _ = h.call(owner, OpCode.create, create_req("/s", b"x", acl=acl))
    assert hdr.err == 0
    hdr, _ = h.call(stranger, OpCode.setData, r.SetDataRequest("/s", b"y", -1))
    assert hdr.err == Err.NOAUTH
    _, body = h.call(stranger, OpCode.getACL, r.GetACLRequest("/s"), r.GetACLResponse)
    assert body.acl[0].id.id == "alice:x"
    _, body = h.call(owner, OpCode.getACL, r.GetACLRequest("/s"), r.GetACLResponse)
    assert body.acl[0].id == digest_id
    hdr, _ = h.call(owner, OpCode.create, create_req("/t", acl=[r.ACL(31, r.Id("auth", ""))]))
    assert hdr.err == 0
    assert h.server.tree.get_node("/t").acl[0].id == digest_id


def test_bad_auth_scheme_fails_and_closes() -> None:
    h = Harness()
    conn, _ = h.connect()
    h.request(conn, OpCode.auth, r.AuthPacket(0, "kerberos", b"x"))
    assert r.ReplyHeader.decode(conn.take()[0], 0)[0].err == Err.AUTHFAILED
    assert conn.closed is not None


def test_set_watches_fires_for_changes_missed_while_away() -> None:
    h = Harness()
    writer, _ = h.connect()
    h.call(writer, OpCode.create, create_req("/sw"))
    h.call(writer, OpCode.setData, r.SetDataRequest("/sw", b"1", -1))
    reader, _ = h.connect()
    h.request(reader, OpCode.setWatches, r.SetWatches(2, ["/sw"], ["/gone", "/sw"], []), xid=-8)
    frames = reader.take()
    events = [r.WatcherEvent.decode(f, 16)[0] for f in frames[:-1]]
    assert [(e.type, e.path) for e in events] == [(EventType.NodeDataChanged, "/sw"), (EventType.NodeCreated, "/sw")]
    assert r.ReplyHeader.decode(frames[-1], 0)[0].xid == -8
    h.call(writer, OpCode.create, create_req("/gone"))
    assert [r.WatcherEvent.decode(f, 16)[0].type for f in reader.take()] == [EventType.NodeCreated]


def test_malformed_request_body_gets_marshalling_error_and_connection_survives() -> None:
    h = Harness()
    conn, _ = h.connect()
    hdr, _ = h.call(conn, OpCode.create, b"\x00\x00\x00\x10/a")
    assert hdr.err == Err.MARSHALLINGERROR
    hdr, _ = h.call(conn, OpCode.getData, b"\x00")
    assert hdr.err == Err.MARSHALLINGERROR
    assert conn.closed is None


def test_too_many_outstanding_requests_pause_the_connection() -> None:
    h = Harness(max_outstanding_per_connection=10)
    conn, _ = h.connect()
    for i in range(12):
        h.request(conn, OpCode.create, create_req(f"/n{i}"))
    assert conn.paused
    h.commit()
    assert not conn.paused and len(conn.take()) == 12


def test_containers_are_reaped_once_emptied_and_ttl_nodes_once_expired() -> None:
    from zkpy.server.containers import ReaperPolicy
    from zkpy.server.prep import PrepPolicy

    h = Harness(prep=PrepPolicy(extended_types_enabled=True))
    conn, _ = h.connect()
    policy = ReaperPolicy(check_interval_ms=1000)
    hdr, _ = h.call(conn, OpCode.createContainer, create_req("/c", mode=CreateMode.CONTAINER))
    assert hdr.err == 0
    h.server.reap_containers(policy)
    h.commit()
    assert "/c" in h.server.tree.nodes, "a container that never had a child stays"
    h.call(conn, OpCode.create, create_req("/c/x"))
    h.server.reap_containers(policy)
    h.commit()
    assert "/c" in h.server.tree.nodes, "not empty"
    h.call(conn, OpCode.delete, r.DeleteRequest("/c/x", -1))
    h.server.reap_containers(policy)
    h.commit()
    assert "/c" not in h.server.tree.nodes
    ttl = r.CreateTTLRequest("/t", b"", OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, 5000)
    hdr, _ = h.call(conn, OpCode.createTTL, ttl)
    assert hdr.err == 0
    h.server.reap_containers(policy)
    h.commit()
    assert "/t" in h.server.tree.nodes
    h.clock.now_ms += 6000
    h.server.reap_containers(policy)
    h.commit()
    assert "/t" not in h.server.tree.nodes


def test_ttl_creation_needs_extended_types() -> None:
    h = Harness()
    conn, _ = h.connect()
    ttl = r.CreateTTLRequest("/t", b"", OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, 5000)
    hdr, _ = h.call(conn, OpCode.createTTL, ttl)
    assert hdr.err == Err.UNIMPLEMENTED


def test_recursive_watch_does_not_reveal_unreadable_nodes() -> None:
    h = Harness()
    owner, _ = h.connect()
    watcher, _ = h.connect()
    h.request(owner, OpCode.auth, r.AuthPacket(0, "digest", b"alice:secret"))
    owner.take()
    h.request(watcher, OpCode.addWatch, r.AddWatchRequest("/", 1))
    h.commit()
    watcher.take()
    private = [r.ACL(31, r.Id("digest", digest_of("alice:secret")))]
    h.call(owner, OpCode.create, create_req("/open"))
    h.call(owner, OpCode.create, create_req("/secret", acl=private))
    events = [r.WatcherEvent.decode(f, 16)[0] for f in watcher.take()]
    assert [(e.type, e.path) for e in events] == [(EventType.NodeCreated, "/open")]
