from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.persistence.fuzzy_replay import MISSING, fuzzy_dir, tree_follows_fuzzy_replay_rules
from tests.persistence.trees import assert_same_tree
from tests.persistence.workload import Workload
from zkpy.datatree.digest import tree_digest
from zkpy.persistence.purge import purge
from zkpy.persistence.restore import EmptySnapshotError, restore
from zkpy.persistence.snapshot import CorruptSnapshotError, serialize_snapshot
from zkpy.persistence.snapshot_files import NoValidSnapshotError, SnapshotFiles, looks_like_snapshot
from zkpy.persistence.txnlog_files import TxnLogFiles

PREALLOC = 64 * 1024


@pytest.mark.parametrize("compression", ["", "gz", "snappy"])
def test_write_and_load(tmp_path: Path, compression: str) -> None:
    workload = Workload(1)
    for _ in workload.txns(300):
        pass
    snaps = SnapshotFiles(tmp_path, compression=compression)
    path = snaps.write(workload.tree)
    suffix = f".{compression}" if compression else ""
    assert path.name == f"snapshot.{workload.zxid:x}{suffix}"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # the .tmp file is gone
    assert looks_like_snapshot(path)
    loaded = snaps.load(path)
    assert_same_tree(workload.tree, loaded.tree)
    assert loaded.zxid == workload.zxid
    assert loaded.zxid_digest is not None and loaded.zxid_digest.digest == tree_digest(workload.tree)


def test_newest_valid_snapshot_wins_and_a_corrupt_one_is_skipped(tmp_path: Path) -> None:
    snaps = SnapshotFiles(tmp_path)
    workload = Workload(2)
    written = []
    for _ in range(3):
        for _ in workload.txns(100):
            pass
        written.append(snaps.write(workload.tree))
    assert [p.name for p in snaps.snapshots()] == [p.name for p in reversed(written)]
    newest = written[-1]
    data = bytearray(newest.read_bytes())
    # The last node's pzxid sits before "/" (5 bytes), the seal (13), the digest trailer (33) and
    # the last-zxid trailer (21): damage there still parses, so only the checksum can tell.
    data[-75] ^= 0x40
    newest.write_bytes(bytes(data))
    loaded, skipped = snaps.load_newest()
    assert loaded is not None and loaded.zxid == 200
    assert [s.path for s in skipped] == [newest] and "checksum" in skipped[0].reason


def test_incomplete_snapshots_fail_the_cheap_check(tmp_path: Path) -> None:
    snaps = SnapshotFiles(tmp_path)
    workload = Workload(3)
    for _ in workload.txns(50):
        pass
    good = snaps.write(workload.tree)
    (tmp_path / "snapshot.ffff").write_bytes(good.read_bytes()[:-100])
    (tmp_path / "snapshot.fffe.tmp").write_bytes(b"ZKSN")
    (tmp_path / "snapshot.fffd.gz").write_bytes(b"nope")
    (tmp_path / "snapshot.notazxid").write_bytes(b"x")
    assert snaps.valid_snapshots() == [good]
    assert snaps.load_newest()[0].zxid == 50  # type: ignore[union-attr]


def test_no_snapshot_at_all_versus_none_valid(tmp_path: Path) -> None:
    snaps = SnapshotFiles(tmp_path)
    assert snaps.load_newest() == (None, [])
    (tmp_path / "snapshot.5").write_bytes(b"ZKSN" + bytes(20) + b"\x00\x00\x00\x01/")
    with pytest.raises(NoValidSnapshotError, match="snapshot.5"):
        snaps.load_newest()
    with pytest.raises(CorruptSnapshotError):
        snaps.load(tmp_path / "snapshot.5")


def test_a_failed_write_leaves_no_file(tmp_path: Path) -> None:
    snaps = SnapshotFiles(tmp_path)

    def exploding() -> object:
        yield b"ZKSN"
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        snaps.write_stream(7, exploding())  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_write_stream_takes_a_background_serialization(tmp_path: Path) -> None:
    workload = Workload(4)
    for _ in workload.txns(100):
        pass
    snaps = SnapshotFiles(tmp_path, compression="gz")
    chunks = serialize_snapshot(workload.tree, zxid_digest=None, last_processed_zxid=None, chunk_size=1024)
    path = snaps.write_stream(workload.zxid, chunks, fsync=False)
    assert_same_tree(workload.tree, snaps.load(path).tree)


# ------------------------------------------------------------------------------- restore


def build_data_dir(directory: Path, txns: int, snapshot_every: int, seed: int = 5) -> Workload:
    logs = TxnLogFiles(directory, prealloc_size=PREALLOC)
    snaps = SnapshotFiles(directory)
    workload = Workload(seed)
    snaps.write(workload.tree)  # snapshot.0, as ZooKeeper writes for a new database
    for i in range(1, txns + 1):
        logs.append([workload.step()])
        if i % snapshot_every == 0:
            logs.sync()
            logs.roll()
            snaps.write(workload.tree)
    logs.sync()
    logs.close()
    return workload


def test_restore_replays_the_log_over_the_newest_snapshot(tmp_path: Path) -> None:
    workload = build_data_dir(tmp_path, 500, 200)
    result = restore(SnapshotFiles(tmp_path), TxnLogFiles(tmp_path), verify_digests=True)
    assert (result.snapshot_zxid, result.zxid, result.txns_replayed) == (400, 500, 100)
    assert result.digest_mismatches == []
    assert_same_tree(workload.tree, result.tree)
    assert result.tree.last_processed_zxid == 500


def test_restore_falls_back_to_an_older_snapshot_and_replays_more(tmp_path: Path) -> None:
    workload = build_data_dir(tmp_path, 500, 200)
    (tmp_path / "snapshot.190").write_bytes((tmp_path / "snapshot.190").read_bytes()[:-13] + bytes(13))
    result = restore(SnapshotFiles(tmp_path), TxnLogFiles(tmp_path))
    assert (result.snapshot_zxid, result.txns_replayed) == (200, 300)
    assert_same_tree(workload.tree, result.tree)


def test_restore_of_an_empty_directory_is_a_new_database(tmp_path: Path) -> None:
    result = restore(SnapshotFiles(tmp_path), TxnLogFiles(tmp_path))
    assert (result.zxid, result.snapshot_zxid, result.needs_initial_snapshot) == (0, -1, True)


def test_logs_without_snapshot_need_trust_empty(tmp_path: Path) -> None:
    workload = build_data_dir(tmp_path, 100, 1000)
    for snapshot in tmp_path.glob("snapshot.*"):
        snapshot.unlink()
    with pytest.raises(EmptySnapshotError):
        restore(SnapshotFiles(tmp_path), TxnLogFiles(tmp_path))
    result = restore(SnapshotFiles(tmp_path), TxnLogFiles(tmp_path), trust_empty_snapshot=True)
    assert (result.snapshot_zxid, result.zxid, result.txns_replayed) == (-1, 100, 100)
    assert_same_tree(workload.tree, result.tree)


def test_digest_mismatches_are_reported(tmp_path: Path) -> None:
    build_data_dir(tmp_path, 50, 1000)
    loaded = SnapshotFiles(tmp_path).load(tmp_path / "snapshot.0")
    loaded.tree.nodes["/zookeeper"].data = b"tampered"  # counted in the digest
    snaps = SnapshotFiles(tmp_path)
    (tmp_path / "snapshot.0").unlink()
    snaps.write(loaded.tree)
    result = restore(snaps, TxnLogFiles(tmp_path), verify_digests=True)
    assert result.digest_mismatches == [50]


# ------------------------------------------------------------------------------- purge


def test_purge_keeps_the_newest_snapshots_and_the_logs_they_need(tmp_path: Path) -> None:
    build_data_dir(tmp_path, 1000, 200)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert before.count("log.1") == 1
    deleted = purge(tmp_path, tmp_path, 3)
    after = sorted(p.name for p in tmp_path.iterdir())
    # Snapshots 0x258 (600), 0x320 (800) and 0x3e8 (1000) stay; 600's txns start in log.259,
    # but the newest log named <= 600 is log.191 (401), which ZooKeeper keeps too.
    assert sorted(n for n in after if n.startswith("snapshot.")) == ["snapshot.258", "snapshot.320", "snapshot.3e8"]
    assert sorted(n for n in after if n.startswith("log.")) == ["log.191", "log.259", "log.321"]
    assert sorted(p.name for p in deleted) == sorted(set(before) - set(after))
    result = restore(SnapshotFiles(tmp_path), TxnLogFiles(tmp_path))
    assert result.zxid == 1000


def test_purge_refuses_fewer_than_three(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        purge(tmp_path, tmp_path, 2)


def test_purge_with_separate_log_and_snapshot_directories(tmp_path: Path) -> None:
    log_dir, snap_dir = tmp_path / "logs", tmp_path / "snaps"
    logs, snaps = TxnLogFiles(log_dir, prealloc_size=PREALLOC), SnapshotFiles(snap_dir)
    workload = Workload(6)
    for _ in range(5):
        logs.append(workload.txns(10))
        logs.sync()
        logs.roll()
        snaps.write(workload.tree)
    purge(log_dir, snap_dir, 3)
    assert sorted(os.listdir(snap_dir)) == ["snapshot.1e", "snapshot.28", "snapshot.32"]
    assert sorted(os.listdir(log_dir)) == ["log.15", "log.1f", "log.29"]


# ------------------------------------------------------------------------------- fuzzy replay


def test_replay_over_a_fuzzy_snapshot_follows_zookeeper(tmp_path: Path) -> None:
    if not tree_follows_fuzzy_replay_rules():
        pytest.xfail(MISSING)
    tree = restore(*fuzzy_dir(tmp_path)).tree
    assert (tree.nodes["/p"].cversion, tree.nodes["/p"].pzxid) == (1, 4)
    assert (tree.nodes["/q"].cversion, tree.nodes["/q"].pzxid) == (1, 5)
    assert (tree.nodes["/r"].cversion, tree.nodes["/r"].pzxid) == (1, 7)
