from __future__ import annotations

from zkpy.datatree.acl import OPEN_ACL_UNSAFE
from zkpy.datatree.tree import DataTree
from zkpy.jute import records as r
from zkpy.jute.constants import CONTAINER_EPHEMERAL_OWNER, Err, EventType, OpCode


def header(zxid: int, op: int, session: int = 0x100, time_ms: int = 1000) -> r.TxnHeader:
    return r.TxnHeader(session, 1, zxid, time_ms, op)


def create(tree: DataTree, zxid: int, path: str, data: bytes = b"", ephemeral: bool = False, session: int = 0x100) -> object:
    parent = tree.get_node(path[: path.rfind("/")] or "/")
    cversion = parent.cversion + 1 if parent else 0
    return tree.apply(header(zxid, OpCode.create, session), r.CreateTxn(path, data, OPEN_ACL_UNSAFE, ephemeral, cversion))


def test_fresh_tree_matches_zookeepers_special_nodes() -> None:
    tree = DataTree()
    assert tree.node_count == 5
    assert tree.get_node("/").stat().cversion == -1
    assert tree.get_node("/zookeeper").stat().cversion == -2
    assert tree.get_node("/zookeeper/config").aversion == -1


def test_create_sets_stat_and_parent_bookkeeping() -> None:
    tree = DataTree()
    result = create(tree, 5, "/a", b"hello")
    assert result.err == 0 and result.path == "/a"
    stat = tree.get_node("/a").stat()
    assert (stat.czxid, stat.mzxid, stat.pzxid, stat.ctime, stat.dataLength) == (5, 5, 5, 1000, 5)
    root = tree.get_node("/").stat()
    assert root.pzxid == 5 and root.numChildren == 2 and root.cversion == 0
    assert tree.last_processed_zxid == 5


def test_delete_counts_in_visible_cversion_and_keeps_pzxid_monotonic() -> None:
    tree = DataTree()
    create(tree, 2, "/a")
    create(tree, 3, "/a/b")
    tree.apply(header(4, OpCode.delete), r.DeleteTxn("/a/b"))
    stat = tree.get_node("/a").stat()
    assert stat.cversion == 2 and stat.numChildren == 0 and stat.pzxid == 4
    assert tree.apply(header(5, OpCode.delete), r.DeleteTxn("/a/b")).err == Err.NONODE


def test_set_data_and_watches_fire_once() -> None:
    tree = DataTree()
    create(tree, 2, "/a")
    tree.watch_data("/a", "w")
    result = tree.apply(header(3, OpCode.setData), r.SetDataTxn("/a", b"x", 1))
    assert result.events == [("w", EventType.NodeDataChanged, "/a")]
    assert result.stat.version == 1 and result.stat.mzxid == 3
    again = tree.apply(header(4, OpCode.setData), r.SetDataTxn("/a", b"y", 2))
    assert again.events == []


def test_delete_notifies_data_and_child_watchers_once_and_parent() -> None:
    tree = DataTree()
    create(tree, 2, "/a")
    create(tree, 3, "/a/b")
    tree.watch_data("/a/b", "w")
    tree.watch_children("/a/b", "w")
    tree.watch_children("/a", "p")
    result = tree.apply(header(4, OpCode.delete), r.DeleteTxn("/a/b"))
    assert result.events == [("w", EventType.NodeDeleted, "/a/b"), ("p", EventType.NodeChildrenChanged, "/a")]


def test_ephemerals_are_tracked_and_removed_with_the_session() -> None:
    tree = DataTree()
    tree.apply(header(1, OpCode.createSession, 0x7), r.CreateSessionTxn(30000))
    create(tree, 2, "/e1", ephemeral=True, session=0x7)
    create(tree, 3, "/e2", ephemeral=True, session=0x7)
    assert set(tree.ephemerals_of(0x7)) == {"/e1", "/e2"}
    assert tree.get_node("/e1").ephemeral_owner == 0x7
    tree.watch_data("/e1", "w")
    result = tree.apply(header(4, OpCode.closeSession, 0x7), r.CloseSessionTxn(["/e1", "/e2"]))
    assert "/e1" not in tree.nodes and "/e2" not in tree.nodes
    assert 0x7 not in tree.sessions and set(tree.ephemerals_of(0x7)) == set()
    assert ("w", EventType.NodeDeleted, "/e1") in result.events


def test_multi_failure_applies_nothing_and_reports_each_op() -> None:
    tree = DataTree()
    create(tree, 2, "/a")
    txns = [
        r.Txn(OpCode.create, r.CreateTxn("/b", b"", OPEN_ACL_UNSAFE, False, 2).to_bytes()),
        r.Txn(OpCode.error, r.ErrorTxn(Err.BADVERSION).to_bytes()),
        r.Txn(OpCode.error, r.ErrorTxn(Err.RUNTIMEINCONSISTENCY).to_bytes()),
    ]
    result = tree.apply(header(3, OpCode.multi), r.MultiTxn(txns))
    assert "/b" not in tree.nodes
    assert [sub.err for sub in result.multi] == [0, Err.BADVERSION, Err.RUNTIMEINCONSISTENCY]
    assert result.err == Err.BADVERSION


def test_multi_success_applies_all_with_one_zxid() -> None:
    tree = DataTree()
    txns = [
        r.Txn(OpCode.create, r.CreateTxn("/b", b"", OPEN_ACL_UNSAFE, False, 1).to_bytes()),
        r.Txn(OpCode.setData, r.SetDataTxn("/b", b"v", 1).to_bytes()),
    ]
    result = tree.apply(header(3, OpCode.multi), r.MultiTxn(txns))
    assert result.err == 0
    node = tree.get_node("/b")
    assert node.czxid == 3 and node.mzxid == 3 and node.version == 1


def test_containers_and_ttls_are_indexed() -> None:
    tree = DataTree()
    tree.apply(header(2, OpCode.createContainer), r.CreateContainerTxn("/c", b"", OPEN_ACL_UNSAFE, 1))
    assert tree.get_node("/c").ephemeral_owner == CONTAINER_EPHEMERAL_OWNER
    assert tree.containers == {"/c"}
    tree.apply(header(3, OpCode.createTTL), r.CreateTTLTxn("/t", b"", OPEN_ACL_UNSAFE, 2, 5000))
    assert tree.ttls == {"/t"}
    assert tree.get_node("/t").ephemeral_owner & ((1 << 40) - 1) == 5000


def test_recursive_watch_sees_descendant_changes() -> None:
    tree = DataTree()
    tree.add_persistent_watch("/", "w", recursive=True)
    result = create(tree, 2, "/a")
    assert result.events == [("w", EventType.NodeCreated, "/a")]


def test_digest_is_maintained_incrementally() -> None:
    from zkpy.datatree.digest import tree_digest

    tree = DataTree()
    assert tree.digest == tree_digest(tree)
    create(tree, 2, "/a", b"x")
    create(tree, 3, "/a/b", b"y")
    tree.apply(header(4, OpCode.setData), r.SetDataTxn("/a", b"zz", 1))
    tree.apply(header(5, OpCode.setACL), r.SetACLTxn("/a/b", OPEN_ACL_UNSAFE, 1))
    tree.apply(header(6, OpCode.delete), r.DeleteTxn("/a/b"))
    create(tree, 7, "/a", b"again")
    assert tree.digest == tree_digest(tree)
