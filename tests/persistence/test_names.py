from __future__ import annotations

from zkpy.persistence.names import (
    hex_zxid,
    log_files_from,
    make_log_name,
    make_snapshot_name,
    sort_data_dir,
    zxid_from_name,
)


def test_names_use_long_to_hex_string() -> None:
    assert make_log_name(0x100000001) == "log.100000001"
    assert make_snapshot_name(0) == "snapshot.0"
    assert make_snapshot_name(0xABC, "gz") == "snapshot.abc.gz"
    assert make_snapshot_name(0xABC, "snappy") == "snapshot.abc.snappy"
    assert hex_zxid(-1) == "ffffffffffffffff"


def test_zxid_from_name_follows_util_get_zxid_from_name() -> None:
    assert zxid_from_name("log.1f", "log") == 0x1F
    assert zxid_from_name("snapshot.1f.gz", "snapshot") == 0x1F
    assert zxid_from_name("snapshot.1F.tmp", "snapshot") == 0x1F
    assert zxid_from_name("log.1f", "snapshot") == -1
    assert zxid_from_name("log", "log") == -1
    assert zxid_from_name("log.xyz", "log") == -1
    assert zxid_from_name("log.0x1f", "log") == -1
    assert zxid_from_name("log.1_0", "log") == -1
    assert zxid_from_name("log.ffffffffffffffff", "log") == -1  # beyond Long.parseLong's range
    assert zxid_from_name("logx.1", "log") == -1


def test_sort_data_dir_is_by_zxid_and_stable() -> None:
    names = ["log.a", "log.2", "junk", "log.10"]
    assert sort_data_dir(names, "log") == ["junk", "log.2", "log.a", "log.10"]
    assert sort_data_dir(names, "log", ascending=False) == ["log.10", "log.a", "log.2", "junk"]


def test_log_files_from_starts_at_the_log_that_may_hold_the_zxid() -> None:
    names = ["log.1", "log.50", "log.100", "snapshot.60", "acceptedEpoch"]
    assert log_files_from(names, 0x60) == ["log.50", "log.100"]
    assert log_files_from(names, 0x50) == ["log.50", "log.100"]
    assert log_files_from(names, 0x4F) == ["log.1", "log.50", "log.100"]
    assert log_files_from(names, 0x200) == ["log.100"]
    assert log_files_from(names, 0) == ["log.1", "log.50", "log.100"]
    assert log_files_from([], 5) == []
