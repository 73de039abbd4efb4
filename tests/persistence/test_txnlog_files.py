from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from tests.persistence.workload import Workload
from zkpy.jute.txns import encode_txn
from zkpy.persistence.txnlog import CorruptLogError, encode_entry
from zkpy.persistence.txnlog_files import TxnLogFiles, read_log_file

PREALLOC = 64 * 1024


def zxids(entries: object) -> list[int]:
    return [e.zxid for e in entries]  # type: ignore[attr-defined]


def test_first_append_creates_a_preallocated_log_named_after_its_first_zxid(tmp_path: Path) -> None:
    logs = TxnLogFiles(tmp_path, prealloc_size=PREALLOC)
    workload = Workload(1, first_zxid=0x500000001)
    logs.append(workload.txns(10))
    assert logs.last_appended_zxid == 0x50000000A and logs.last_synced_zxid == -1
    assert list(tmp_path.iterdir()) == []  # nothing reaches the disk before sync
    assert logs.sync() == 0x50000000A
    [path] = logs.log_files()
    assert path.name == "log.500000001"
    assert path.stat().st_size == PREALLOC + 16
    assert zxids(read_log_file(path)) == list(range(0x500000001, 0x50000000B))


def test_file_grows_by_prealloc_steps_and_reads_stop_at_the_padding(tmp_path: Path) -> None:
    logs = TxnLogFiles(tmp_path, prealloc_size=PREALLOC)
    workload = Workload(2)
    for _ in range(40):
        logs.append(workload.txns(10))
        logs.sync()
    [path] = logs.log_files()
    size = path.stat().st_size
    assert size % PREALLOC == 16 or size % PREALLOC == 0
    assert size >= logs.current_log_size
    assert zxids(logs.read_after(0)) == list(range(1, 401))


def test_roll_starts_a_new_file_with_the_next_append(tmp_path: Path) -> None:
    logs = TxnLogFiles(tmp_path, prealloc_size=PREALLOC)
    workload = Workload(3)
    logs.append(workload.txns(5))
    logs.sync()
    logs.roll()
    logs.roll()  # a second roll without appends is a no-op
    logs.append(workload.txns(5))
    logs.roll()
    logs.append(workload.txns(5))
    logs.sync()
    assert [p.name for p in logs.log_files()] == ["log.1", "log.6", "log.b"]
    assert zxids(logs.read_after(7)) == list(range(8, 16))
    assert [p.name for p in logs.log_files_from(7)] == ["log.6", "log.b"]


def test_a_fresh_object_finds_the_last_logged_zxid_and_starts_a_new_file(tmp_path: Path) -> None:
    first = TxnLogFiles(tmp_path, prealloc_size=PREALLOC)
    workload = Workload(4)
    first.append(workload.txns(20))
    first.sync()
    first.close()
    second = TxnLogFiles(tmp_path, prealloc_size=PREALLOC)
    assert second.last_logged_zxid() == 20
    second.append(workload.txns(3))
    second.sync()
    assert second.last_logged_zxid() == 23
    assert [p.name for p in second.log_files()] == ["log.1", "log.15"]
    assert zxids(second.read_after(0)) == list(range(1, 24))


def test_empty_directory_has_no_last_zxid(tmp_path: Path) -> None:
    assert TxnLogFiles(tmp_path).last_logged_zxid() == -1
    assert list(TxnLogFiles(tmp_path).read_after(-1)) == []


def test_append_serialized_logs_proposal_payloads_as_they_are(tmp_path: Path) -> None:
    logs = TxnLogFiles(tmp_path, prealloc_size=PREALLOC)
    txns = list(Workload(5).txns(4))
    logs.append_serialized(encode_txn(*t) for t in txns)
    logs.sync()
    assert [(e.header, e.txn, e.digest) for e in logs.read_after(0)] == txns


def test_torn_tail_of_an_older_file_is_skipped_like_zookeeper_after_a_crash(tmp_path: Path) -> None:
    logs = TxnLogFiles(tmp_path, prealloc_size=PREALLOC)
    workload = Workload(6)
    logs.append(workload.txns(10))
    logs.sync()
    logs.close()
    # Crash in the middle of txn 10: its tail never reached the disk.
    [path] = logs.log_files()
    last = list(read_log_file(path))[-1]
    with open(path, "r+b") as f:
        f.seek(last.offset + 20)
        f.write(bytes(last.end_offset - last.offset - 20))
    restarted = TxnLogFiles(tmp_path, prealloc_size=PREALLOC)
    assert restarted.last_logged_zxid() == 9
    workload.zxid = 9
    restarted.append(workload.txns(3))
    restarted.sync()
    assert [p.name for p in restarted.log_files()] == ["log.1", "log.a"]
    assert zxids(restarted.read_after(0)) == list(range(1, 13))


def test_corruption_in_the_middle_is_reported_with_file_and_offset(tmp_path: Path) -> None:
    logs = TxnLogFiles(tmp_path, prealloc_size=PREALLOC)
    logs.append(Workload(7).txns(10))
    logs.sync()
    [path] = logs.log_files()
    third = list(read_log_file(path))[2]
    with open(path, "r+b") as f:
        f.seek(third.offset + 25)
        byte = f.read(1)
        f.seek(third.offset + 25)
        f.write(bytes([byte[0] ^ 0x10]))
    with pytest.raises(CorruptLogError) as info:
        list(logs.read_after(0))
    assert info.value.file_name == str(path) and info.value.offset == third.offset


def test_truncate_keeps_txns_up_to_zxid_and_deletes_later_files(tmp_path: Path) -> None:
    logs = TxnLogFiles(tmp_path, prealloc_size=PREALLOC)
    workload = Workload(8)
    for _ in range(3):
        logs.append(workload.txns(10))
        logs.roll()
    logs.sync()
    assert [p.name for p in logs.log_files()] == ["log.1", "log.b", "log.15"]
    logs.truncate(15)
    assert [p.name for p in logs.log_files()] == ["log.1", "log.b"]
    kept = read_log_file(tmp_path / "log.b")
    assert zxids(kept) == list(range(11, 16))
    assert (tmp_path / "log.b").stat().st_size == list(read_log_file(tmp_path / "log.b"))[-1].end_offset
    assert logs.last_logged_zxid() == 15
    workload.zxid = 15
    logs.append(workload.txns(2))
    logs.sync()
    assert [p.name for p in logs.log_files()] == ["log.1", "log.b", "log.10"]
    assert zxids(logs.read_after(0)) == list(range(1, 18))


def test_truncate_to_before_a_file_start_and_to_the_very_end(tmp_path: Path) -> None:
    logs = TxnLogFiles(tmp_path, prealloc_size=PREALLOC)
    workload = Workload(9)
    logs.append(workload.txns(10))
    logs.roll()
    logs.append(workload.txns(10))
    logs.sync()
    logs.truncate(20)
    assert zxids(logs.read_after(0)) == list(range(1, 21))
    logs.truncate(10)
    assert [p.name for p in logs.log_files()] == ["log.1"]
    assert zxids(logs.read_after(0)) == list(range(1, 11))
    logs.truncate(0)
    assert zxids(logs.read_after(0)) == []


def test_truncate_drops_pending_txns_beyond_the_zxid_too(tmp_path: Path) -> None:
    logs = TxnLogFiles(tmp_path, prealloc_size=PREALLOC)
    logs.append(Workload(10).txns(10))
    logs.truncate(4)
    assert zxids(logs.read_after(0)) == [1, 2, 3, 4]
    assert logs.last_appended_zxid == 4


def test_size_limit_rolls_after_sync(tmp_path: Path) -> None:
    logs = TxnLogFiles(tmp_path, prealloc_size=PREALLOC, size_limit_bytes=2000)
    workload = Workload(11)
    for _ in range(10):
        logs.append(workload.txns(5))
        logs.sync()
    assert len(logs.log_files()) > 2
    assert zxids(logs.read_after(0)) == list(range(1, 51))


def test_no_force_sync_still_writes(tmp_path: Path) -> None:
    logs = TxnLogFiles(tmp_path, prealloc_size=0, force_sync=False)
    logs.append(Workload(12).txns(3))
    logs.sync()
    [path] = logs.log_files()
    assert path.stat().st_size == list(read_log_file(path))[-1].end_offset  # no preallocation
    assert zxids(logs.read_after(0)) == [1, 2, 3]


def test_appends_from_one_thread_while_another_syncs(tmp_path: Path) -> None:
    logs = TxnLogFiles(tmp_path, prealloc_size=PREALLOC)
    txns = list(Workload(13).txns(2000))
    done = threading.Event()
    synced: list[int] = []

    def disk_thread() -> None:
        while not done.is_set():
            synced.append(logs.sync())
        synced.append(logs.sync())

    worker = threading.Thread(target=disk_thread)
    worker.start()
    for i in range(0, len(txns), 7):
        logs.append(txns[i:i + 7])
        if i % 140 == 0:
            logs.roll()
    done.set()
    worker.join(timeout=60)
    assert synced == sorted(synced) and synced[-1] == 2000
    assert zxids(logs.read_after(0)) == list(range(1, 2001))


def test_close_writes_pending_entries(tmp_path: Path) -> None:
    logs = TxnLogFiles(tmp_path, prealloc_size=PREALLOC)
    logs.append(Workload(14).txns(3))
    logs.close()
    assert zxids(TxnLogFiles(tmp_path).read_after(0)) == [1, 2, 3]


def test_other_files_in_the_directory_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "snapshot.5").write_bytes(b"x")
    (tmp_path / "log.notzxid").write_bytes(b"x")
    (tmp_path / "acceptedEpoch").write_text("1")
    logs = TxnLogFiles(tmp_path, prealloc_size=PREALLOC)
    logs.append(Workload(15).txns(2))
    logs.sync()
    assert [p.name for p in logs.log_files()] == ["log.1"]
    assert zxids(logs.read_after(0)) == [1, 2]


def test_an_entry_written_without_a_header_file_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "log.1").write_bytes(b"JUNK" + bytes(12) + encode_entry(b"x" * 40))
    with pytest.raises(CorruptLogError, match="magic"):
        list(TxnLogFiles(tmp_path).read_after(0))
    assert os.path.exists(tmp_path / "log.1")
