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

INITIAL_TABLE_SIZE = 8


@lru_cache(maxsize=1 << 16)
def java_string_hash(text: str) -> int:
    """String.hashCode over UTF-16 code units, as an unsigned 32-bit value."""
    h = 0
    if text.isascii():
        for byte in text.encode("ascii"):
            h = (31 * h + byte) & 0xFFFFFFFF
        return h
    data = text.encode("utf-16-be", "surrogatepass")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h


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
