"""ZooKeeper's two rules for replaying the log over a fuzzy snapshot, and a probe for them.

DataTree.deleteNode moves the parent's pzxid forward even when the child is already gone, and
DataTree.processTxn answers a plain `create` that fails with NODEEXISTS with setCversionPzxid on
the parent. Both only matter when replaying txns over a snapshot that already holds some of their
effects. zkpy's DataTree.apply does not follow them yet; until it does, tests that replay over
Apache's fuzzy snapshots can diverge in a parent's pzxid/cversion, and are marked xfail when they
do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from zkpy.datatree.acl import OPEN_ACL_UNSAFE
from zkpy.datatree.tree import DataTree
from zkpy.jute import records as r
from zkpy.jute.constants import OpCode
from zkpy.persistence.snapshot_files import SnapshotFiles
from zkpy.persistence.txnlog_files import TxnLogFiles

MISSING = "DataTree.apply lacks ZooKeeper's fuzzy-replay rules (parent pzxid on a delete of a " \
          "missing child; setCversionPzxid on a create that hits NODEEXISTS)"


def tree_follows_fuzzy_replay_rules() -> bool:
    tree = DataTree()
    tree.apply(r.TxnHeader(1, 1, 2, 0, OpCode.create), r.CreateTxn("/p", b"", OPEN_ACL_UNSAFE, False, -1))
    tree.apply(r.TxnHeader(1, 1, 3, 0, OpCode.delete), r.DeleteTxn("/p/gone"))
    tree.apply(r.TxnHeader(1, 1, 4, 0, OpCode.create), r.CreateTxn("/p", b"", OPEN_ACL_UNSAFE, False, 5))
    root = tree.nodes["/"]
    return tree.nodes["/p"].pzxid == 3 and (root.cversion, root.pzxid) == (5, 4)


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
    """A snapshot named 0x3 that already holds the effects of txns 0x4 and 0x5 (a create under /p
    and a delete under /q) on the children but not on the parents, as a snapshot written while
    they were applied can; and the log with those txns."""
    tree = DataTree()
    txns = [
        (r.TxnHeader(1, 1, 1, 0, OpCode.create), r.CreateTxn("/p", b"", OPEN_ACL_UNSAFE, False, 1)),
        (r.TxnHeader(1, 1, 2, 0, OpCode.create), r.CreateTxn("/q", b"", OPEN_ACL_UNSAFE, False, 2)),
        (r.TxnHeader(1, 1, 3, 0, OpCode.create), r.CreateTxn("/q/old", b"", OPEN_ACL_UNSAFE, False, 1)),
        (r.TxnHeader(1, 1, 4, 0, OpCode.create), r.CreateTxn("/p/new", b"", OPEN_ACL_UNSAFE, False, 1)),
        (r.TxnHeader(1, 1, 5, 0, OpCode.delete), r.DeleteTxn("/q/old")),
    ]
    for header, txn in txns[:3]:
        tree.apply(header, txn)
    p, q = tree.nodes["/p"], tree.nodes["/q"]
    p_stat, q_stat = (p.cversion, p.pzxid), (q.cversion, q.pzxid)
    for header, txn in txns[3:]:
        tree.apply(header, txn)
    (p.cversion, p.pzxid), (q.cversion, q.pzxid) = p_stat, q_stat
    tree.last_processed_zxid = 3
    snapshots, logs = SnapshotFiles(directory), TxnLogFiles(directory, prealloc_size=64 * 1024)
    snapshots.write(tree, digest_enabled=False)
    logs.append((h, t, None) for h, t in txns)
    logs.sync()
    return snapshots, logs
