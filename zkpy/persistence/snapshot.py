"""The snapshot format, pure: a DataTree to a stream of byte chunks and back.

Theory of operation (ZooKeeper's FileSnap, SerializeUtils.serializeSnapshot, DataTree.serialize,
ReferenceCountedACLCache.serialize, DataNode.serialize, SnapStream.sealStream):

    FileHeader { int magic "ZKSN"; int version 2; long dbid -1 }
    int sessionCount; repeat { long sessionId; int timeoutMs }
    int aclCount;     repeat { long aclIndex; vector<ACL> acl }
    repeat { ustring path; buffer data; long aclIndex; StatPersisted stat }   pre-order, root = ""
    ustring "/"                                       end of the tree
    long adler32-of-everything-so-far; ustring "/"    seal
    [ZxidDigest { long zxid; int digestVersion; long digest }; seal]    zookeeper.digest.enabled
    [long lastProcessedZxid; seal]     3.9's zookeeper.serializeLastProcessedZxid.enabled (3.8 never
                                       writes it and ignores it when reading)

Nodes point at ACLs through the index table written before them. Index -1 stands for
OPEN_ACL_UNSAFE without a table entry; ZooKeeper uses it for the nodes it builds itself (the root,
/zookeeper, /zookeeper/quota), so those get -1 here while they are open, and every other distinct
ACL gets an index from 1 up, in sorted order (ZooKeeper numbers them in the order it first met
them, which the tree does not remember). Children are written in the order ZooKeeper's HashSet
iterates them (DataNode.ordered_children), as ZooKeeper writes them; reading a snapshot adds them
back in file order, so after a restart both list children in the same order again.

Serialization is a generator of chunks, the Adler32 running over them, so a snapshot of any size
streams to disk. It reads the tree as it goes: the caller must hand it a tree (or a copy-on-write
view) that does not change meanwhile. Deserialization consumes chunks too and rebuilds a fresh
DataTree: nodes, children sets, the ephemeral/container/TTL indexes and sessions. Its
`last_processed_zxid` is the snapshot's zxid from the file name, as in FileSnap.deserialize.
"""

from __future__ import annotations

import gc
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from zlib_ng import zlib_ng

from zkpy.datatree.digest import DIGEST_VERSION, to_java_long, tree_digest
from zkpy.datatree.tree import ChildSet, DataNode, DataTree, ephemeral_kind
from zkpy.jute import records as r
from zkpy.jute.codec import _java_utf8 as java_utf8

# Strings are Jute strings, as everywhere else: written the way BinaryOutputArchive writes them
# (a character above U+FFFF as two 3-byte surrogates) and read like `new String(bytes, UTF_8)`.
# So, as in ZooKeeper, such a character in a path does not survive a snapshot round trip.
JAVA_UTF8_ERRORS = "zkpy-java-utf8"

SNAP_MAGIC = 0x5A4B534E  # "ZKSN"
SNAP_VERSION = 2
SNAP_DBID = -1
OPEN_UNSAFE_ACL_INDEX = -1
DEFAULT_CHUNK_SIZE = 256 * 1024

_INT = struct.Struct(">i")
_LONG = struct.Struct(">q")
_HEADER = struct.Struct(">iiq")
_SESSION = struct.Struct(">qi")
_ACL_ENTRY = struct.Struct(">qi")
# aclIndex, then StatPersisted: czxid mzxid ctime mtime version cversion aversion ephemeralOwner pzxid
_NODE_TAIL = struct.Struct(">qqqqqiiiqq")
_SLASH = _INT.pack(1) + b"/"
_NULL = _INT.pack(-1)
_SEAL_SIZE = _LONG.size + len(_SLASH)
_LAST_ZXID_TRAILER_SIZE = _LONG.size + _SEAL_SIZE
SYNC_SIGNATURE_TEXT = "BenWasHere"
SYNC_SIGNATURE = _INT.pack(len(SYNC_SIGNATURE_TEXT)) + SYNC_SIGNATURE_TEXT.encode()


class CorruptSnapshotError(Exception):
    """A snapshot stream that is truncated, malformed or fails its checksum."""


@dataclass(frozen=True, slots=True)
class ZxidDigest:
    """DataTree.ZxidDigest: the tree digest after applying the txn `zxid`."""

    zxid: int
    digest_version: int
    digest: int


@dataclass(slots=True)
class LoadedSnapshot:
    tree: DataTree
    zxid: int
    zxid_digest: ZxidDigest | None
    last_processed_zxid: int | None


def current_zxid_digest(tree: Any) -> ZxidDigest:
    """The ZxidDigest of a tree that is not changing: its own digest at its last zxid."""
    return ZxidDigest(tree.last_processed_zxid, DIGEST_VERSION, tree_digest(tree))


# --------------------------------------------------------------------------------- writing


def serialize_snapshot(
    tree: Any,
    *,
    zxid_digest: ZxidDigest | None,
    last_processed_zxid: int | None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[bytes]:
    """The uncompressed snapshot of `tree` as chunks of about `chunk_size` bytes.

    `zxid_digest` None leaves the digest trailer out (zookeeper.digest.enabled=false);
    `last_processed_zxid` None leaves out 3.9's last-zxid trailer (as 3.8 writes).
    """
    header = _HEADER.pack(SNAP_MAGIC, SNAP_VERSION, SNAP_DBID)
    adler = zlib_ng.adler32(header)
    yield header
    for chunk in serialize_database(tree, chunk_size):
        adler = zlib_ng.adler32(chunk, adler)
        yield chunk
    out = bytearray(_seal(adler))
    if zxid_digest is not None:
        out += _LONG.pack(zxid_digest.zxid)
        out += _INT.pack(zxid_digest.digest_version)
        out += _LONG.pack(to_java_long(zxid_digest.digest))
        out += _seal(zlib_ng.adler32(out, adler))
    if last_processed_zxid is not None:
        out += _LONG.pack(last_processed_zxid)
        out += _seal(zlib_ng.adler32(out, adler))
    yield bytes(out)


def serialize_sync_snapshot(tree: Any, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
    """What a leader writes on the quorum port after a SNAP packet (LearnerHandler): the
    database without file header or seal, then the string "BenWasHere"."""
    yield from serialize_database(tree, chunk_size)
    yield SYNC_SIGNATURE


def serialize_database(tree: Any, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
    """SerializeUtils.serializeSnapshot: sessions, the ACL table, the nodes, the end marker."""
    out = bytearray()
    nodes = tree.nodes
    root = nodes[""] if "" in nodes else nodes["/"]

    out += _INT.pack(len(tree.sessions))
    for session_id, timeout_ms in tree.sessions.items():
        out += _SESSION.pack(session_id, timeout_ms)

    index_of, table = _acl_table(tree)
    out += _INT.pack(len(table))
    for index, acl in table:
        out += _ACL_ENTRY.pack(index, len(acl))
        for entry in acl:
            entry.encode(out)  # ACL's record encoder writes Jute's strings

    builtin_open = tree.builtin_open_acl
    stack: list[tuple[str, Any]] = [("", root)]
    while stack:
        path, node = stack.pop()
        acl_index = OPEN_UNSAFE_ACL_INDEX if node.acl is builtin_open else index_of[id(node.acl)]
        encoded_path = java_utf8(path)
        out += _INT.pack(len(encoded_path))
        out += encoded_path
        data = node.data
        if data is None:
            out += _NULL
        else:
            out += _INT.pack(len(data))
            out += data
        out += _NODE_TAIL.pack(
            acl_index,
            node.czxid,
            node.mzxid,
            node.ctime,
            node.mtime,
            node.version,
            node.cversion,
            node.aversion,
            node.ephemeral_owner,
            node.pzxid,
        )
        if node.children:
            prefix = path + "/"
            for name in reversed(node.ordered_children()):
                child = nodes.get(prefix + name)
                if child is not None:
                    stack.append((prefix + name, child))
        if len(out) >= chunk_size:
            yield bytes(out)
            out.clear()
    out += _SLASH  # the end-of-tree marker: a path of "/"
    yield bytes(out)


def _seal(checksum: int) -> bytes:
    return _LONG.pack(checksum) + _SLASH



def _acl_table(tree: Any) -> tuple[dict[int, int], list[tuple[int, Any]]]:
    """Index per ACL list object and the table to write. The tree interns every node's ACL
    (one list object per distinct ACL), so the table comes from its intern table without a
    pass over the nodes; it may list an ACL no node uses any more, as ZooKeeper's cache may.
    Indexes follow the sorted ACL contents, so equal trees give equal tables."""
    interned = tree.interned_acls()
    index_by_key = {key: i for i, key in enumerate(sorted(interned), start=1)}
    table = [(index_by_key[key], interned[key]) for key in sorted(interned)]
    return {id(acl): index_by_key[key] for key, acl in interned.items()}, table


# --------------------------------------------------------------------------------- reading


class _Reader:
    """Big-endian primitives over a chunk iterator, with a running Adler32 of consumed bytes."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self.buf = b""
        self.pos = 0
        self._adler = 1
        self._adler_pos = 0

    def need(self, n: int) -> None:
        if len(self.buf) - self.pos >= n:
            return
        self._adler = zlib_ng.adler32(memoryview(self.buf)[self._adler_pos:self.pos], self._adler)
        parts = [self.buf[self.pos:]]
        have = len(parts[0])
        while have < n:
            chunk = next(self._chunks, None)
            if chunk is None:
                raise CorruptSnapshotError("snapshot is truncated")
            parts.append(chunk)
            have += len(chunk)
        self.buf = b"".join(parts)
        self.pos = 0
        self._adler_pos = 0

    def checksum(self) -> int:
        """Adler32 of every byte consumed so far."""
        self._adler = zlib_ng.adler32(memoryview(self.buf)[self._adler_pos:self.pos], self._adler)
        self._adler_pos = self.pos
        return self._adler

    def rest(self) -> bytes:
        """Everything left in the stream (the small trailer)."""
        parts = [self.buf[self.pos:], *self._chunks]
        return b"".join(parts)

    def buffered(self) -> bytes:
        """What was pulled from the chunk iterator but not consumed (for a live stream)."""
        return self.buf[self.pos:]

    def read_int(self) -> int:
        self.need(4)
        (value,) = _INT.unpack_from(self.buf, self.pos)
        self.pos += 4
        return int(value)

    def read_long(self) -> int:
        self.need(8)
        (value,) = _LONG.unpack_from(self.buf, self.pos)
        self.pos += 8
        return int(value)

    def read_bytes(self) -> bytes | None:
        length = self.read_int()
        if length < 0:
            if length != -1:
                raise CorruptSnapshotError(f"negative length {length}")
            return None
        self.need(length)
        value = self.buf[self.pos:self.pos + length]
        self.pos += length
        return value

    def read_string(self) -> str | None:
        value = self.read_bytes()
        return None if value is None else value.decode("utf-8", JAVA_UTF8_ERRORS)

    def read_struct(self, st: struct.Struct) -> tuple[Any, ...]:
        self.need(st.size)
        values = st.unpack_from(self.buf, self.pos)
        self.pos += st.size
        return values

    def check_seal(self) -> None:
        expected = self.checksum()
        value = self.read_long()
        self.read_string()
        if value != expected:
            raise CorruptSnapshotError(f"checksum mismatch: stored {value:#x}, computed {expected:#x}")


def deserialize_snapshot(chunks: Iterable[bytes], snapshot_zxid: int) -> LoadedSnapshot:
    """Rebuilds a DataTree from an uncompressed snapshot stream; `snapshot_zxid` is the zxid in
    the file name. Raises CorruptSnapshotError for anything but a well-formed, sealed stream."""
    reader = _Reader(chunks)
    magic, _version, _dbid = reader.read_struct(_HEADER)
    if magic != SNAP_MAGIC:
        raise CorruptSnapshotError(f"bad magic number {magic:#x} != {SNAP_MAGIC:#x}")
    tree = _read_database(reader)
    reader.check_seal()
    zxid_digest, last_processed_zxid = _read_trailers(reader)
    tree.last_processed_zxid = snapshot_zxid
    return LoadedSnapshot(tree, snapshot_zxid, zxid_digest, last_processed_zxid)


def deserialize_sync_snapshot(chunks: Iterable[bytes], snapshot_zxid: int) -> tuple[DataTree, bytes]:
    """Reads what serialize_sync_snapshot wrote (Learner.syncWithLeader after SNAP); returns the
    tree at `snapshot_zxid` (the SNAP packet's zxid) and the bytes that followed the signature."""
    reader = _Reader(chunks)
    tree = _read_database(reader)
    signature = reader.read_string()
    if signature != SYNC_SIGNATURE_TEXT:
        raise CorruptSnapshotError(f"missing signature after the database: {signature!r}")
    tree.last_processed_zxid = snapshot_zxid
    return tree, reader.buffered()


def _read_database(reader: _Reader) -> DataTree:
    # Millions of new objects would trigger the cyclic GC over and over; none of them are garbage.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        tree = DataTree()
        tree.sessions.clear()
        for _ in range(_count(reader.read_int())):
            session_id, timeout_ms = reader.read_struct(_SESSION)
            tree.sessions[session_id] = timeout_ms
        acls = _read_acl_table(reader, tree)
        _read_nodes(reader, tree, acls)
    finally:
        if gc_was_enabled:
            gc.enable()
    return tree


def _count(n: int) -> int:
    if n < 0:
        raise CorruptSnapshotError(f"negative count {n}")
    return n


def _read_acl_table(reader: _Reader, tree: DataTree) -> dict[int, list[Any]]:
    acls: dict[int, list[Any]] = {OPEN_UNSAFE_ACL_INDEX: tree.builtin_open_acl}
    for _ in range(_count(reader.read_int())):
        index = reader.read_long()
        size = reader.read_int()
        if size < 0:
            raise CorruptSnapshotError("ACL table entry without its ACL vector")
        acl = []
        for _ in range(size):
            perms = reader.read_int()
            scheme = reader.read_string()
            ident = reader.read_string()
            acl.append(r.ACL(perms, r.Id(scheme, ident)))
        acls[index] = tree.intern_acl(acl)
    return acls


def _read_nodes(reader: _Reader, tree: DataTree, acls: dict[int, list[Any]]) -> None:
    """The node records up to the "/" end marker. The hot loop of a restart: it reads straight
    from the reader's buffer and asks for more only when a whole record is not there yet."""
    nodes = tree.nodes
    nodes.clear()
    tree.ephemerals.clear()
    tree.containers.clear()
    tree.ttls.clear()
    data_size = 0
    unpack_int = _INT.unpack_from
    unpack_tail = _NODE_TAIL.unpack_from
    tail_size = _NODE_TAIL.size
    buf, pos = reader.buf, reader.pos
    while True:
        if len(buf) - pos < 4:
            reader.pos = pos
            reader.need(4)
            buf, pos = reader.buf, reader.pos
        (path_length,) = unpack_int(buf, pos)
        if path_length < 0:
            raise CorruptSnapshotError(f"bad node path length {path_length}")
        data_start = pos + 4 + path_length + 4
        if len(buf) < data_start:
            reader.pos = pos
            reader.need(data_start - pos)
            buf, pos = reader.buf, reader.pos
            data_start = pos + 4 + path_length + 4
        path = buf[pos + 4:data_start - 4].decode("utf-8", JAVA_UTF8_ERRORS)
        if path == "/":
            pos = data_start - 4
            break
        (data_length,) = unpack_int(buf, data_start - 4)
        if data_length < -1:
            raise CorruptSnapshotError(f"{path}: bad data length {data_length}")
        data_end = data_start + max(data_length, 0)
        if len(buf) < data_end + tail_size:
            reader.pos = pos
            reader.need(data_end + tail_size - pos)
            shift = reader.pos - pos
            buf, pos = reader.buf, reader.pos
            data_start += shift
            data_end += shift
        data = buf[data_start:data_end] if data_length >= 0 else None
        (acl_index, czxid, mzxid, ctime, mtime, version, cversion, aversion, owner,
         pzxid) = unpack_tail(buf, data_end)
        pos = data_end + tail_size
        acl = acls.get(acl_index)
        if acl is None:
            raise CorruptSnapshotError(f"{path}: ACL index {acl_index} is not in the ACL table")
        node = DataNode(data, acl, czxid, ctime, owner)
        node.mzxid = mzxid
        node.mtime = mtime
        node.version = version
        node.cversion = cversion
        node.aversion = aversion
        node.pzxid = pzxid
        slash = path.rfind("/")
        if slash >= 0:
            parent = nodes.get(path[:slash])
            if parent is None:
                raise CorruptSnapshotError(f"{path}: parent {path[:slash]!r} is not in the snapshot")
            parent.add_child(path[slash + 1:])
            if owner:
                kind = ephemeral_kind(owner)
                if kind == "normal":
                    tree.ephemerals.setdefault(owner, ChildSet()).add(path)
                elif kind == "container":
                    tree.containers.add(path)
                elif kind == "ttl":
                    tree.ttls.add(path)
        nodes[path] = node
        if data is not None:
            data_size += len(data)
    reader.pos = pos
    if "" not in nodes:
        raise CorruptSnapshotError("snapshot has no root node")
    nodes["/"] = nodes[""]
    tree.recompute_totals()
    tree.rebuild_quotas()


def _read_trailers(reader: _Reader) -> tuple[ZxidDigest | None, int | None]:
    """The optional ZxidDigest and lastProcessedZxid trailers, each followed by a seal.

    Which are present is told by what is left: 21 bytes is a lone lastProcessedZxid (digest
    disabled), anything else non-empty starts with a ZxidDigest. A trailer cut short is ignored,
    as ZooKeeper ignores an EOF there; a trailer with a bad seal is corruption.
    """
    start_checksum = reader.checksum()
    rest = reader.rest()
    zxid_digest: ZxidDigest | None = None
    last_zxid: int | None = None
    offset = 0
    try:
        if rest and len(rest) != _LAST_ZXID_TRAILER_SIZE:
            zxid, digest_version = struct.unpack_from(">qi", rest, 0)
            offset = 12
            if digest_version < 2:
                (length,) = _INT.unpack_from(rest, offset)
                text = rest[offset + 4:offset + 4 + max(length, 0)].decode("ascii", "replace")
                offset += 4 + max(length, 0)
                digest = to_java_long(int(text, 16)) if length >= 0 else 0
            else:
                (digest,) = _LONG.unpack_from(rest, offset)
                offset += 8
            offset = _check_trailer_seal(rest, offset, start_checksum)
            if zxid > 0:
                zxid_digest = ZxidDigest(zxid, digest_version, digest)
        if len(rest) - offset >= _LAST_ZXID_TRAILER_SIZE:
            (last_zxid,) = _LONG.unpack_from(rest, offset)
            offset = _check_trailer_seal(rest, offset + 8, start_checksum)
    except (struct.error, ValueError):
        return zxid_digest, None
    return zxid_digest, last_zxid


def _check_trailer_seal(rest: bytes, offset: int, start_checksum: int) -> int:
    expected = zlib_ng.adler32(rest[:offset], start_checksum)
    if len(rest) < offset + _SEAL_SIZE:
        raise struct.error("seal cut short")
    (value,) = _LONG.unpack_from(rest, offset)
    if value != expected:
        raise CorruptSnapshotError(f"trailer checksum mismatch: stored {value:#x}, computed {expected:#x}")
    return offset + _SEAL_SIZE
