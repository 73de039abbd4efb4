"""ZooKeeper's two rules for replaying the log over a fuzzy snapshot, a probe for them, and data
directories with fuzzy snapshots built to order (`fuzzy_dir`, `in_flight_dir`).

DataTree.deleteNode moves the parent's pzxid forward even when the child is already gone, and
DataTree.processTxn answers a txn of type `create` that fails with NODEEXISTS with
setCversionPzxid on the parent -- a `create` inside a multi too, since every sub-txn goes through
processTxn with its own type. Both only matter when replaying txns over a snapshot that already
holds some of their effects. A tree without them diverges from Apache in a parent's
pzxid/cversion when replaying over Apache's fuzzy snapshots; tests doing that are marked xfail
while the probe below says the rules are missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from zkpy.datatree.acl import OPEN_ACL_UNSAFE
from zkpy.datatree.digest import DIGEST_VERSION, tree_digest
from zkpy.datatree.tree import DataTree
from zkpy.jute import records as r
from zkpy.jute.constants import OpCode
from zkpy.persistence.snapshot import ZxidDigest, serialize_snapshot
from zkpy.persistence.snapshot_files import SnapshotFiles
from zkpy.persistence.txnlog_files import TxnLogFiles

MISSING = "DataTree.apply lacks ZooKeeper's fuzzy-replay rules (parent pzxid on a delete of a " \
          "missing child; setCversionPzxid on a create, in a multi too, that hits NODEEXISTS)"


def tree_follows_fuzzy_replay_rules() -> bool:
    tree = DataTree()
    tree.apply(r.TxnHeader(1, 1, 2, 0, OpCode.create), r.CreateTxn("/p", b"", OPEN_ACL_UNSAFE, False, -1))
    tree.apply(r.TxnHeader(1, 1, 3, 0, OpCode.delete), r.DeleteTxn("/p/gone"))
    tree.apply(r.TxnHeader(1, 1, 4, 0, OpCode.create), r.CreateTxn("/p", b"", OPEN_ACL_UNSAFE, False, 5))
    root = tree.nodes["/"]
    plain = (root.cversion, root.pzxid) == (5, 4)
    tree.apply(r.TxnHeader(1, 1, 5, 0, OpCode.multi), r.MultiTxn([_sub_create("/p", 6)]))
    return tree.nodes["/p"].pzxid == 3 and plain and (root.cversion, root.pzxid) == (6, 5)


def _sub_create(path: str, parent_cversion: int) -> r.Txn:
    return r.Txn(OpCode.create, r.CreateTxn(path, b"", OPEN_ACL_UNSAFE, False, parent_cversion).to_bytes())


@contextmanager
def xfail_if_tree_lacks_fuzzy_replay_rules() -> Iterator[None]:
    """Failures inside are expected (xfail) while the tree lacks the rules, real once it has them."""
    try:
        yield
    except AssertionError:
        if tree_follows_fuzzy_replay_rules():
            raise
        pytest.xfail(MISSING)


def fuzzy_dir(directory: Path) -> tuple[SnapshotFiles, TxnLogFiles]:
    """A snapshot named 0x3 that already holds the effects of txns 0x4 to 0x7 (a create under /p,
    a delete under /q, the create of /r and a multi creating /r/new) on the children but not on
    the parents /p, /q and /r, as a snapshot written while they were applied can; and the log
    with those txns."""
    tree = DataTree()
    txns = [
        (r.TxnHeader(1, 1, 1, 0, OpCode.create), r.CreateTxn("/p", b"", OPEN_ACL_UNSAFE, False, 1)),
        (r.TxnHeader(1, 1, 2, 0, OpCode.create), r.CreateTxn("/q", b"", OPEN_ACL_UNSAFE, False, 2)),
        (r.TxnHeader(1, 1, 3, 0, OpCode.create), r.CreateTxn("/q/old", b"", OPEN_ACL_UNSAFE, False, 1)),
        (r.TxnHeader(1, 1, 4, 0, OpCode.create), r.CreateTxn("/p/new", b"", OPEN_ACL_UNSAFE, False, 1)),
        (r.TxnHeader(1, 1, 5, 0, OpCode.delete), r.DeleteTxn("/q/old")),
        (r.TxnHeader(1, 1, 6, 0, OpCode.create), r.CreateTxn("/r", b"", OPEN_ACL_UNSAFE, False, 3)),
        (r.TxnHeader(1, 1, 7, 0, OpCode.multi), r.MultiTxn([_sub_create("/r/new", 1)])),
    ]
    for header, txn in txns[:3]:
        tree.apply(header, txn)
    p, q = tree.nodes["/p"], tree.nodes["/q"]
    p_stat, q_stat = (p.cversion, p.pzxid), (q.cversion, q.pzxid)
    for header, txn in txns[3:6]:
        tree.apply(header, txn)
    r_node = tree.nodes["/r"]
    r_stat = (r_node.cversion, r_node.pzxid)
    for header, txn in txns[6:]:
        tree.apply(header, txn)
    (p.cversion, p.pzxid), (q.cversion, q.pzxid), (r_node.cversion, r_node.pzxid) = p_stat, q_stat, r_stat
    tree.last_processed_zxid = 3
    snapshots, logs = SnapshotFiles(directory), TxnLogFiles(directory, prealloc_size=64 * 1024)
    snapshots.write(tree, digest_enabled=False)
    logs.append((h, t, None) for h, t in txns)
    logs.sync()
    return snapshots, logs


def in_flight_dir(directory: Path, half_bumped_parent: bool = False) -> tuple[SnapshotFiles, TxnLogFiles]:
    """snapshot.0 (the empty tree) and a snapshot named 0x2 whose ZxidDigest names txn 0x3 while
    it already holds txn 0x4 (the create of /a/caught, with /a's bump): what Apache writes when
    0x4 is applied during the end of its tree walk, before 0x4's digest is recorded. With
    `half_bumped_parent`, the snapshot's /a has 0x4's pzxid but the cversion from before 0x4, a
    state no serialization produces (a parent's stat and children are copied under one lock) that
    replaying 0x4 repairs all the same. The log holds txns 0x1 to 0x5 with their TxnDigests."""
    txns = [
        (r.TxnHeader(1, 1, 1, 0, OpCode.create), r.CreateTxn("/a", b"", OPEN_ACL_UNSAFE, False, 1)),
        (r.TxnHeader(1, 1, 2, 0, OpCode.create), r.CreateTxn("/b", b"", OPEN_ACL_UNSAFE, False, 2)),
        (r.TxnHeader(1, 1, 3, 0, OpCode.setData), r.SetDataTxn("/b", b"three", 1)),
        (r.TxnHeader(1, 1, 4, 0, OpCode.create), r.CreateTxn("/a/caught", b"", OPEN_ACL_UNSAFE, False, 1)),
        (r.TxnHeader(1, 1, 5, 0, OpCode.setData), r.SetDataTxn("/a", b"five", 1)),
    ]
    snapshots, logs = SnapshotFiles(directory), TxnLogFiles(directory, prealloc_size=64 * 1024)
    tree = DataTree()
    snapshots.write(tree)
    logged = []
    digest_at_3 = 0
    for header, txn in txns:
        tree.apply(header, txn)
        logged.append((header, txn, r.TxnDigest(DIGEST_VERSION, tree_digest(tree))))
        if header.zxid == 3:
            digest_at_3 = tree_digest(tree)
        if header.zxid == 4:
            parent = tree.nodes["/a"]
            bumped_cversion = parent.cversion
            if half_bumped_parent:
                parent.cversion -= 1
            chunks = serialize_snapshot(tree, zxid_digest=ZxidDigest(3, DIGEST_VERSION, digest_at_3),
                                        last_processed_zxid=None)
            snapshots.write_stream(2, chunks)
            parent.cversion = bumped_cversion
    logs.append(logged)
    logs.sync()
    return snapshots, logs
