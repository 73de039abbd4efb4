"""Start-up recovery: newest valid snapshot + replay of the txn log (FileTxnSnapLog.restore).

Theory of operation: snapshots are fuzzy -- ZooKeeper writes them while txns keep being applied --
so a snapshot named zxid Z may already contain some effects of txns after Z. Replaying every
logged txn after Z over it converges to the right tree because applying is idempotent enough:
a create of an existing node or a delete of a missing one fails harmlessly, and the parent's
cversion/pzxid only move forward -- provided DataTree.apply follows ZooKeeper there: a delete of a
missing child still moves the parent's pzxid, and a `create` that finds its node already there
still sets the parent's cversion/pzxid (DataTree.deleteNode, processTxn's setCversionPzxid).

Empty data directories (ZOOKEEPER-3056, `zookeeper.snapshot.trust.empty`):
- no snapshot and no log: a brand-new database; the result is a fresh tree at zxid 0 and
  `needs_initial_snapshot` is set, because ZooKeeper writes snapshot.0 right away so that the next
  start finds one;
- no snapshot but a non-empty log: something deleted the snapshots (or a pre-3.5 install with
  only logs); ZooKeeper refuses to start (`EmptySnapshotError`) unless snapshot.trust.empty=true,
  in which case the whole log is replayed onto a fresh tree. Only meant for upgrades.

With `verify_digests`, the tree digest is compared with the snapshot's ZxidDigest when replay
reaches that zxid and with the TxnDigest of the last replayed txn; each costs one pass over the
tree. Mismatches are reported, not raised: ZooKeeper also only logs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from zkpy.datatree.digest import DIGEST_VERSION, tree_digest
from zkpy.datatree.tree import DataTree
from zkpy.persistence.snapshot_files import SnapshotFiles
from zkpy.persistence.txnlog import LogEntry
from zkpy.persistence.txnlog_files import TxnLogFiles

log = structlog.get_logger("zkpy.persistence")


class EmptySnapshotError(Exception):
    """Log entries exist but no snapshot, and snapshot.trust.empty is off."""


@dataclass(slots=True)
class RestoreResult:
    tree: DataTree
    zxid: int
    snapshot_zxid: int
    txns_replayed: int
    needs_initial_snapshot: bool = False
    digest_mismatches: list[int] = field(default_factory=list)


def restore(
    snapshots: SnapshotFiles,
    logs: TxnLogFiles,
    *,
    trust_empty_snapshot: bool = False,
    verify_digests: bool = False,
    replayed: Callable[[LogEntry], None] | None = None,
) -> RestoreResult:
    """Loads the database: returns the tree and the highest zxid applied (`snapshot_zxid` -1 when
    there was no snapshot); `replayed` sees every txn applied from the log (a quorum member
    remembers the recent ones to sync learners from). Raises NoValidSnapshotError,
    EmptySnapshotError, CorruptLogError."""
    loaded, _skipped = snapshots.load_newest()
    if loaded is None:
        if logs.last_logged_zxid() == -1:
            return RestoreResult(DataTree(), 0, -1, 0, needs_initial_snapshot=True)
        if not trust_empty_snapshot:
            raise EmptySnapshotError("No snapshot found, but there are log entries. Something is broken!")
        log.warning("restoring_without_snapshot", reason="snapshot.trust.empty=true")
        tree, snapshot_zxid, snapshot_digest = DataTree(), -1, None
    else:
        tree, snapshot_zxid, snapshot_digest = loaded.tree, loaded.zxid, loaded.zxid_digest
        if snapshot_digest is not None and snapshot_digest.zxid < snapshot_zxid:
            snapshot_digest = None  # an older epoch's digest: nothing to compare it with

    result = RestoreResult(tree, max(snapshot_zxid, 0), snapshot_zxid, 0)
    pending_digest = snapshot_digest if verify_digests else None
    if pending_digest is not None and pending_digest.zxid == snapshot_zxid:
        _compare(result, snapshot_zxid, pending_digest.digest_version, pending_digest.digest)
        pending_digest = None
    last_digest = None
    for entry in logs.read_after(snapshot_zxid):
        tree.apply(entry.header, entry.txn)
        if replayed is not None:
            replayed(entry)
        result.txns_replayed += 1
        result.zxid = max(result.zxid, entry.zxid)
        last_digest = (entry.zxid, entry.digest) if entry.digest is not None else None
        if pending_digest is not None and entry.zxid == pending_digest.zxid:
            _compare(result, entry.zxid, pending_digest.digest_version, pending_digest.digest)
            pending_digest = None
    if verify_digests and last_digest is not None:
        zxid, digest = last_digest
        _compare(result, zxid, digest.version, digest.treeDigest)
    log.info("database_restored", snapshot_zxid=f"{snapshot_zxid:#x}", zxid=f"{result.zxid:#x}",
             txns_replayed=result.txns_replayed, nodes=len(tree.nodes))
    return result


def _compare(result: RestoreResult, zxid: int, digest_version: int, expected: int) -> None:
    if digest_version != DIGEST_VERSION:
        return
    actual = tree_digest(result.tree)
    if actual != expected:
        log.error("digest_mismatch", zxid=f"{zxid:#x}", expected=expected, actual=actual)
        result.digest_mismatches.append(zxid)
