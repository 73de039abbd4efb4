"""Zxids: the 64-bit transaction ids of ZAB, `epoch << 32 | counter`.

Theory of operation
-------------------
Mirrors ZooKeeper's `ZxidUtils`. A zxid is a signed Java long: the high 32 bits are the epoch
of the leader that proposed the txn, the low 32 bits count txns within that epoch. The epoch is
read with an *arithmetic* shift, as Java's `zxid >> 32L` does, so the sentinel zxid -1 has
epoch -1 (FastLeaderElection relies on that for the 28-byte notification form). Values are
kept as signed Python ints in the Java long range; `hex_long` prints them as `Long.toHexString`
does (two's complement, lower case, no padding), which is how ZooKeeper logs zxids, epochs and
config versions.
"""

from __future__ import annotations

LONG_MIN = -(1 << 63)
LONG_MAX = (1 << 63) - 1
COUNTER_MASK = 0xFFFFFFFF
_ULONG_MASK = (1 << 64) - 1


def make_zxid(epoch: int, counter: int) -> int:
    """`ZxidUtils.makeZxid`: `(epoch << 32) | (counter & 0xffffffff)` as a signed long."""
    return to_signed_long((epoch << 32) | (counter & COUNTER_MASK))


def epoch_of(zxid: int) -> int:
    """`ZxidUtils.getEpochFromZxid`: the arithmetic high half, so epoch_of(-1) == -1."""
    return zxid >> 32


def counter_of(zxid: int) -> int:
    """`ZxidUtils.getCounterFromZxid`: the low 32 bits, unsigned."""
    return zxid & COUNTER_MASK


def to_signed_long(value: int) -> int:
    """Wrap an integer to the Java long range, as Java's arithmetic overflow would."""
    value &= _ULONG_MASK
    return value - (1 << 64) if value > LONG_MAX else value


def hex_long(value: int) -> str:
    """`Long.toHexString`: two's complement for negative values (-1 -> 'ffffffffffffffff')."""
    return format(value & _ULONG_MASK, "x")


def zxid_to_string(zxid: int) -> str:
    """`ZxidUtils.zxidToString`."""
    return hex_long(zxid)
