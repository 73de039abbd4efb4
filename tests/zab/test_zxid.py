from __future__ import annotations

from zkpy.zab.zxid import (
    LONG_MAX,
    LONG_MIN,
    counter_of,
    epoch_of,
    hex_long,
    make_zxid,
    to_signed_long,
    zxid_to_string,
)


def test_make_and_split() -> None:
    zxid = make_zxid(5, 7)
    assert zxid == 0x500000007
    assert epoch_of(zxid) == 5
    assert counter_of(zxid) == 7


def test_counter_is_truncated_to_32_bits() -> None:
    assert make_zxid(1, 0x1_0000_0002) == make_zxid(1, 2)


def test_epoch_is_an_arithmetic_shift() -> None:
    assert epoch_of(-1) == -1
    assert epoch_of(LONG_MIN) == -(1 << 31)
    assert make_zxid(0x80000000, 0) == LONG_MIN


def test_hex_like_long_to_hex_string() -> None:
    assert hex_long(0) == "0"
    assert hex_long(0x100000000) == "100000000"
    assert hex_long(-1) == "ffffffffffffffff"
    assert hex_long(LONG_MIN) == "8000000000000000"
    assert zxid_to_string(make_zxid(2, 0x1F)) == "20000001f"


def test_to_signed_long_wraps() -> None:
    assert to_signed_long(LONG_MAX + 1) == LONG_MIN
    assert to_signed_long(-1) == -1
