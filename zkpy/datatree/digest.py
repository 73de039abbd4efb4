"""The tree digest: ZooKeeper's DigestCalculator (digest version 2) and NodeHashMapImpl's AdHash.

Theory of operation: every znode has a 32-bit CRC over its path (UTF-8), its data and 60 bytes of
its StatPersisted fields in DigestCalculator's order -- czxid, mzxid, pzxid, ctime, mtime (longs),
version, cversion, aversion (ints), ephemeralOwner (long). cversion is the *stored* value (the
count of creates), not the one clients see. The root is digested under the path "" whether it is
reached as "" or "/" (DataTree keeps both aliases; only "" is counted). Nodes strictly below
"/zookeeper/" digest to 0 and are left out of the sum: their quota stats are updated locally and
would differ between replicas. "/zookeeper" itself is counted.

The tree digest is the sum of all node digests as a Java long (wrapping at 64 bits): an additive
hash, so a change to one node moves the sum by (new - old) and can be maintained incrementally
with `node_digest` before and after each change. Leaders log it in each txn's TxnDigest and
snapshots carry it in their ZxidDigest trailer, so replicas and restarts can be checked against it.

Java hashes the path with String.getBytes() in the platform charset; on any UTF-8 platform (and on
every platform since Java 18) that is UTF-8, which is what is used here.
"""

from __future__ import annotations

import struct
from typing import Any

from zlib_ng import zlib_ng

DIGEST_VERSION = 2
EXCLUDED_PREFIX = "/zookeeper/"

_STAT = struct.Struct(">qqqqqiiiq")
_LONG_RANGE = 1 << 64
_LONG_HALF = 1 << 63


def to_java_long(value: int) -> int:
    """Wraps an integer into a signed 64-bit value, as Java's long arithmetic does."""
    return ((value + _LONG_HALF) % _LONG_RANGE) - _LONG_HALF


def node_digest(path: str, node: Any) -> int:
    """DigestCalculator.calculateDigest: CRC32 of path, data and stat; 0 below /zookeeper/."""
    if path.startswith(EXCLUDED_PREFIX):
        return 0
    if path == "/":
        path = ""
    crc = zlib_ng.crc32(path.encode("utf-8", "replace"))
    if node.data is not None:
        crc = zlib_ng.crc32(node.data, crc)
    stat = _STAT.pack(
        node.czxid,
        node.mzxid,
        node.pzxid,
        node.ctime,
        node.mtime,
        node.version,
        node.cversion,
        node.aversion,
        node.ephemeral_owner,
    )
    return zlib_ng.crc32(stat, crc)


def tree_digest(tree: Any) -> int:
    """The sum of every node's digest as a Java long (NodeHashMapImpl.getDigest)."""
    nodes = tree.nodes
    skip_slash_alias = "" in nodes
    total = 0
    for path, node in nodes.items():
        if path == "/" and skip_slash_alias:
            continue
        total += node_digest(path, node)
    return to_java_long(total)
