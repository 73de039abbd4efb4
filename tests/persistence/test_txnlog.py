from __future__ import annotations

import itertools
import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.persistence.workload import Workload
from zkpy.jute import records as r
from zkpy.jute.constants import OpCode
from zkpy.jute.txns import encode_txn
from zkpy.persistence.txnlog import (
    CorruptLogError,
    encode_entry,
    encode_file_header,
    encode_txn_entry,
    padded_file_size,
    read_log,
    zxid_of_txn_bytes,
)

MB = 1024 * 1024


def log_bytes(count: int, seed: int = 1, padding: int = 4096) -> tuple[bytes, list[tuple[object, object, object]]]:
    txns = list(Workload(seed).txns(count))
    body = b"".join(encode_txn_entry(*txn) for txn in txns)
    return encode_file_header() + body + bytes(padding), txns


def test_file_header_is_zklg_version_2_dbid_0() -> None:
    assert encode_file_header() == b"ZKLG" + struct.pack(">iq", 2, 0)


def test_entry_is_adler32_of_the_txn_bytes_then_length_bytes_and_b() -> None:
    header = r.TxnHeader(0x1234, 7, 0x100000001, 1_700_000_000_000, OpCode.createSession)
    txn_bytes = encode_txn(header, r.CreateSessionTxn(30000))
    entry = encode_entry(txn_bytes)
    assert entry == struct.pack(">qi", zlib.adler32(txn_bytes), len(txn_bytes)) + txn_bytes + b"B"
    assert zxid_of_txn_bytes(txn_bytes) == 0x100000001
    with pytest.raises(ValueError):
        encode_entry(b"")


def test_read_back_every_entry_with_its_digest_and_raw_bytes() -> None:
    data, txns = log_bytes(300)
    entries = list(read_log(data))
    assert [(e.header, e.txn, e.digest) for e in entries] == txns
    assert all(e.raw == encode_txn(*txn) for e, txn in zip(entries, txns))
    assert entries[0].offset == 16
    assert all(a.end_offset == b.offset for a, b in itertools.pairwise(entries))


def test_stops_at_the_end_of_an_unpadded_file_and_on_a_short_header() -> None:
    data, _ = log_bytes(10, padding=0)
    assert len(list(read_log(data))) == 10
    assert list(read_log(b"ZKLG")) == []
    assert list(read_log(b"")) == []


def test_bad_magic_is_corruption() -> None:
    data, _ = log_bytes(3)
    with pytest.raises(CorruptLogError) as info:
        list(read_log(b"ZKSN" + data[4:], "log.1"))
    assert info.value.file_name == "log.1" and info.value.offset == 0


@pytest.mark.parametrize("cut", [1, 5, 11, 12, 20, -1])
def test_torn_last_entry_ends_the_log_cleanly(cut: int) -> None:
    data, _ = log_bytes(5, padding=0)
    last = list(read_log(data))[-1]
    end = last.offset + cut if cut > 0 else last.end_offset + cut
    torn = data[:end]
    assert [e.zxid for e in read_log(torn)] == [e.zxid for e in list(read_log(data))[:-1]]
    # The same tear inside preallocated zeros.
    assert len(list(read_log(torn + bytes(1000)))) == 4


def test_missing_end_of_record_byte_is_a_partial_txn() -> None:
    data, _ = log_bytes(5)
    last = list(read_log(data))[-1]
    broken = bytearray(data)
    broken[last.end_offset - 1] = 0
    assert len(list(read_log(bytes(broken)))) == 4


def test_bad_checksum_on_the_last_entry_before_zeros_is_a_torn_write() -> None:
    data, _ = log_bytes(5)
    last = list(read_log(data))[-1]
    broken = bytearray(data)
    broken[last.offset + 40] ^= 0xFF  # inside the txn bytes; the 'B' stays
    assert len(list(read_log(bytes(broken)))) == 4


def test_bad_checksum_in_the_middle_is_corruption_with_offset() -> None:
    data, _ = log_bytes(5)
    third = list(read_log(data))[2]
    broken = bytearray(data)
    broken[third.offset + 30] ^= 0x01
    with pytest.raises(CorruptLogError) as info:
        list(read_log(bytes(broken), "log.7"))
    assert info.value.offset == third.offset
    assert "log.7" in str(info.value) and "checksum" in str(info.value)


def test_undecodable_txn_with_a_good_checksum_is_corruption() -> None:
    garbage = b"\x00" * 4
    data = encode_file_header() + encode_entry(garbage) + bytes(100)
    with pytest.raises(CorruptLogError, match="undecodable"):
        list(read_log(data))


def test_negative_length_is_corruption_but_minus_one_is_the_end() -> None:
    data, _ = log_bytes(2, padding=0)
    assert len(list(read_log(data + struct.pack(">qi", 0, -1) + b"\x01" * 20))) == 2
    with pytest.raises(CorruptLogError):
        list(read_log(data + struct.pack(">qi", 0, -7) + b"\x01" * 20))


@pytest.mark.parametrize(
    ("position", "file_size", "prealloc", "expected"),
    [
        (16, 16, 64 * MB, 64 * MB + 16),  # a new log: header written, first pad
        (1000, 64 * MB + 16, 64 * MB, 64 * MB + 16),  # far from the end: unchanged
        (64 * MB + 16 - 4096, 64 * MB + 16, 64 * MB, 128 * MB + 16),  # within 4 KiB: grow one step
        (64 * MB + 16 - 4097, 64 * MB + 16, 64 * MB, 64 * MB + 16),
        (100 * MB, 64 * MB + 16, 64 * MB, 128 * MB),  # past the end: next multiple past the position
        (5000, 100, 0, 100),  # preallocation off
    ],
)
def test_padding_arithmetic_matches_file_padding(position: int, file_size: int, prealloc: int, expected: int) -> None:
    assert padded_file_size(position, file_size, prealloc) == expected


@given(st.binary(max_size=400))
def test_reader_never_fails_on_garbage_after_a_good_prefix(tail: bytes) -> None:
    data, _ = log_bytes(3, padding=0)
    try:
        entries = list(read_log(data + tail))
    except CorruptLogError:
        return
    assert len(entries) >= 3
