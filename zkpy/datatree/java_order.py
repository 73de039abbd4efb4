"""The iteration order of a java.util.HashSet<String>, which ZooKeeper exposes.

ZooKeeper keeps a znode's children in a HashSet created with capacity 8 and returns them in its
iteration order (getChildren replies, zkCli's `ls`, snapshots). That order is: bucket index
ascending, insertion order within a bucket; the bucket is `spread(hashCode) & (tableSize - 1)`
and the table doubles whenever it holds more than 3/4 of its size, never shrinking. Given the
children in insertion order and the most children the set ever held, this reproduces it.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from operator import mul

INITIAL_TABLE_SIZE = 8


_POWERS_OF_31: list[int] = [1]


def _powers(count: int) -> list[int]:
    """31**k mod 2**32 for k = count-1 .. 0 (the weights of String.hashCode's polynomial)."""
    while len(_POWERS_OF_31) < count:
        _POWERS_OF_31.append((_POWERS_OF_31[-1] * 31) & 0xFFFFFFFF)
    return _POWERS_OF_31[count - 1 :: -1] if count else []


@lru_cache(maxsize=1 << 16)
def java_string_hash(text: str) -> int:
    """String.hashCode over UTF-16 code units, as an unsigned 32-bit value."""
    if text.isascii():
        units: Iterable[int] = text.encode("ascii")
    else:
        data = text.encode("utf-16-be", "surrogatepass")
        units = [(data[i] << 8) | data[i + 1] for i in range(0, len(data), 2)]
    units = list(units)
    return sum(map(mul, units, _powers(len(units)))) & 0xFFFFFFFF


def table_size(most_entries: int) -> int:
    size = INITIAL_TABLE_SIZE
    while most_entries > size * 3 // 4:
        size *= 2
    return size


def hashset_order(names: Iterable[str], most_entries: int) -> list[str]:
    mask = table_size(most_entries) - 1

    def bucket(name: str) -> int:
        h = java_string_hash(name)
        return (h ^ (h >> 16)) & mask

    return sorted(names, key=bucket)
