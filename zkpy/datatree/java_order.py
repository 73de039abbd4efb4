"""The iteration orders of Java hash collections that ZooKeeper exposes.

ZooKeeper keeps a znode's children in a HashSet created with capacity 8 and returns them in its
iteration order (getChildren replies, zkCli's `ls`, snapshots). That order is: bucket index
ascending, insertion order within a bucket; the bucket is `spread(hashCode) & (tableSize - 1)`
and the table doubles whenever it holds more than 3/4 of its size, never shrinking. Given the
children in insertion order and the most children the set ever held, this reproduces it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
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


CONCURRENT_INITIAL_TABLE_SIZE = 16


def java_record_hash(*fields: str) -> int:
    """The hashCode jute generates for a record of string fields (17, then 37*result + field),
    as an unsigned 32-bit value; used for Id(scheme, id)."""
    result = 17
    for text in fields:
        result = (37 * result + java_string_hash(text)) & 0xFFFFFFFF
    return result


def concurrent_hashmap_order(keys: Iterable[Any], hashes: Iterable[int]) -> list[Any]:
    """The iteration order of a java.util.concurrent.ConcurrentHashMap (or its key set) of
    default capacity: bucket `spread(hash) & (tableSize - 1)` ascending, insertion order within a
    bucket; the table (16) doubles once it holds 3/4 of its size. Exact while the map has never
    been resized; past that ConcurrentHashMap may reverse a bucket's order, which is not
    reproduced."""
    pairs = list(zip(keys, hashes))
    size = CONCURRENT_INITIAL_TABLE_SIZE
    while len(pairs) >= size - (size >> 2):
        size *= 2
    mask = size - 1

    def bucket(pair: tuple[Any, int]) -> int:
        h = pair[1]
        return ((h ^ (h >> 16)) & 0x7FFFFFFF) & mask

    return [key for key, _ in sorted(pairs, key=bucket)]


def table_size_for(capacity: int) -> int:
    """HashMap.tableSizeFor: the smallest power of two at least `capacity` (at least 1)."""
    size = 1
    while size < capacity:
        size *= 2
    return size


class JavaHashSet:
    """A java.util.HashSet<String> of ZooKeeper's: members in insertion order plus the table size
    Java would have, so that iteration yields Java's order (see hashset_order)."""

    __slots__ = ("_members", "_table_size")

    def __init__(self, table_size: int = 16) -> None:
        self._members: dict[str, None] = {}
        self._table_size = table_size

    @classmethod
    def copy_of(cls, ordered: list[str]) -> JavaHashSet:
        """`new HashSet<>(other)` or `other.clone()`: re-inserted in `ordered` into a table sized
        for them (putMapEntries)."""
        copy = cls(table_size_for(int(len(ordered) / 0.75 + 1)))
        for name in ordered:
            copy.add(name)
        return copy

    def add(self, name: str) -> None:
        if name not in self._members:
            self._members[name] = None
            if len(self._members) > self._table_size * 3 // 4:
                self._table_size *= 2

    def discard(self, name: str) -> None:
        self._members.pop(name, None)

    def __len__(self) -> int:
        return len(self._members)

    def in_java_order(self) -> list[str]:
        mask = self._table_size - 1
        return sorted(self._members, key=lambda name: _spread(java_string_hash(name)) & mask)


def _spread(h: int) -> int:
    return h ^ (h >> 16)
