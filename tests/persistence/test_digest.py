from __future__ import annotations

import zlib

from zkpy.datatree.acl import OPEN_ACL_UNSAFE
from zkpy.datatree.digest import node_digest, to_java_long, tree_digest
from zkpy.datatree.tree import UNKNOWN_DIGEST, DataNode, DataTree
from zkpy.jute import records as r
from zkpy.jute.constants import OpCode

# DataTree().getTreeDigest() of Apache ZooKeeper 3.8 (printed by tests/persistence/java's oracle
# for an empty data directory).
APACHE_FRESH_TREE_DIGEST = 1371985504


def test_fresh_tree_digest_matches_apache() -> None:
    assert tree_digest(DataTree()) == APACHE_FRESH_TREE_DIGEST


def test_node_digest_is_crc32_of_path_data_and_stat_in_digest_calculator_order() -> None:
    node = DataNode(b"data", OPEN_ACL_UNSAFE, czxid=1, ctime=2, ephemeral_owner=9)
    node.mzxid, node.mtime, node.pzxid = 3, 4, 5
    node.version, node.cversion, node.aversion = 6, 7, 8
    stat = (1).to_bytes(8, "big") + (3).to_bytes(8, "big") + (5).to_bytes(8, "big") \
        + (2).to_bytes(8, "big") + (4).to_bytes(8, "big") + (6).to_bytes(4, "big") \
        + (7).to_bytes(4, "big") + (8).to_bytes(4, "big") + (9).to_bytes(8, "big")
    assert node_digest("/a", node) == zlib.crc32(b"/a" + b"data" + stat)


def test_null_and_empty_data_digest_alike() -> None:
    assert node_digest("/a", DataNode(None, [])) == node_digest("/a", DataNode(b"", []))


def test_zookeeper_subtree_is_excluded_but_not_the_zookeeper_node() -> None:
    node = DataNode(b"x", [])
    assert node_digest("/zookeeper/quota", node) == 0
    assert node_digest("/zookeeper/anything/deeper", node) == 0
    assert node_digest("/zookeeper", node) != 0
    assert node_digest("/zookeeperx", node) != 0


def test_root_is_digested_as_empty_path_and_counted_once() -> None:
    tree = DataTree()
    root = tree.nodes["/"]
    assert node_digest("/", root) == node_digest("", root)
    expected = node_digest("", root) + node_digest("/zookeeper", tree.nodes["/zookeeper"])
    assert tree_digest(tree) == expected


def test_tree_digest_wraps_like_a_java_long() -> None:
    assert to_java_long(2**63) == -(2**63)
    assert to_java_long(-(2**63) - 1) == 2**63 - 1
    tree = DataTree()
    for i in range(3):
        tree.apply(r.TxnHeader(1, 0, 2 + i, 0, OpCode.create),
                   r.CreateTxn(f"/n{i}", b"", OPEN_ACL_UNSAFE, False, -1))
    assert -(2**63) <= tree_digest(tree) < 2**63


def test_digest_follows_every_change() -> None:
    tree = DataTree()
    before = tree_digest(tree)
    tree.apply(r.TxnHeader(1, 0, 2, 10, OpCode.create), r.CreateTxn("/a", b"v", OPEN_ACL_UNSAFE, False, -1))
    created = tree_digest(tree)
    tree.apply(r.TxnHeader(1, 0, 3, 11, OpCode.setData), r.SetDataTxn("/a", b"w", 1))
    changed = tree_digest(tree)
    tree.apply(r.TxnHeader(1, 0, 4, 12, OpCode.delete), r.DeleteTxn("/a"))
    assert len({before, created, changed, tree_digest(tree)}) == 4


def test_the_maintained_digest_equals_a_full_recount_after_each_change() -> None:
    # Each change starts from the digest the node remembers from its last change: repeated
    # changes to one node and its parent must still add up to a recount.
    tree = DataTree()
    steps = [
        (OpCode.create, r.CreateTxn("/a", b"v", OPEN_ACL_UNSAFE, False, -1)),
        (OpCode.create, r.CreateTxn("/a/b", b"", OPEN_ACL_UNSAFE, False, -1)),
        (OpCode.setData, r.SetDataTxn("/a/b", b"1", 1)),
        (OpCode.setData, r.SetDataTxn("/a/b", b"22", 2)),
        (OpCode.setACL, r.SetACLTxn("/a/b", OPEN_ACL_UNSAFE, 1)),
        (OpCode.setData, r.SetDataTxn("/a", b"w", 1)),
        (OpCode.delete, r.DeleteTxn("/a/b")),
        (OpCode.setData, r.SetDataTxn("/a", b"x", 2)),
        (OpCode.create, r.CreateTxn("/a/b", b"again", OPEN_ACL_UNSAFE, False, -1)),
    ]
    for zxid, (op, txn) in enumerate(steps, start=2):
        tree.apply(r.TxnHeader(1, 0, zxid, 10 + zxid, op), txn)
        assert tree.digest == tree_digest(tree), f"after {OpCode.name_of(op)} at zxid {zxid}"


def test_nodes_without_a_remembered_digest_are_digested_on_their_first_change() -> None:
    tree = DataTree()
    tree.apply(r.TxnHeader(1, 0, 2, 10, OpCode.create), r.CreateTxn("/a", b"v", OPEN_ACL_UNSAFE, False, -1))
    for node in tree.nodes.values():
        node.digest = UNKNOWN_DIGEST  # as a tree restored from a snapshot has them
    tree.apply(r.TxnHeader(1, 0, 3, 11, OpCode.setData), r.SetDataTxn("/a", b"w", 1))
    tree.apply(r.TxnHeader(1, 0, 4, 12, OpCode.create), r.CreateTxn("/a/c", b"", OPEN_ACL_UNSAFE, False, -1))
    assert tree.digest == tree_digest(tree)
