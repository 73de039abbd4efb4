from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.persistence.trees import assert_same_tree, trees
from tests.persistence.workload import Workload
from zkpy.datatree.acl import OPEN_ACL_UNSAFE
from zkpy.datatree.digest import tree_digest
from zkpy.datatree.tree import DataTree
from zkpy.jute import records as r
from zkpy.jute.constants import OpCode
from zkpy.persistence.snapshot import (
    CorruptSnapshotError,
    ZxidDigest,
    current_zxid_digest,
    deserialize_snapshot,
    serialize_snapshot,
)


def snapshot_bytes(tree: DataTree, digest: bool = True, last_zxid: bool = True, chunk_size: int = 4096) -> bytes:
    return b"".join(serialize_snapshot(
        tree,
        zxid_digest=current_zxid_digest(tree) if digest else None,
        last_processed_zxid=tree.last_processed_zxid if last_zxid else None,
        chunk_size=chunk_size,
    ))


def load(data: bytes, zxid: int = 0x42, piece: int = 1000) -> object:
    return deserialize_snapshot((data[i:i + piece] for i in range(0, len(data), piece)), zxid)


def workload_tree(txns: int = 400, seed: int = 1) -> DataTree:
    workload = Workload(seed)
    for _ in workload.txns(txns):
        pass
    return workload.tree


def test_fresh_tree_layout_is_zookeepers() -> None:
    data = snapshot_bytes(DataTree(), digest=False, last_zxid=False)
    assert data[:16] == b"ZKSN" + struct.pack(">iq", 2, -1)
    offset = 16
    assert struct.unpack_from(">i", data, offset) == (0,)  # sessions
    (acl_count,) = struct.unpack_from(">i", data, offset + 4)
    assert acl_count == 1  # /zookeeper/config's READ_ACL_UNSAFE; the built-in open nodes use -1
    assert struct.unpack_from(">qi", data, offset + 8) == (1, 1)
    # The root comes first, named "", with ACL index -1.
    root = data.index(struct.pack(">i", 0) + struct.pack(">i", 0), offset + 12)
    assert struct.unpack_from(">q", data, root + 8) == (-1,)
    # End marker "/" then the seal: Adler32 of everything before it, and "/" again.
    end = len(data) - 13
    assert data[end - 5:end] == struct.pack(">i", 1) + b"/"
    assert struct.unpack_from(">q", data, end) == (zlib.adler32(data[:end]),)
    assert data[end + 8:] == struct.pack(">i", 1) + b"/"


def test_trailers_are_digest_then_last_zxid_each_sealed() -> None:
    tree = workload_tree(50)
    plain = snapshot_bytes(tree, digest=False, last_zxid=False)
    full = snapshot_bytes(tree)
    trailer = full[len(plain):]
    digest = current_zxid_digest(tree)
    assert trailer[:20] == struct.pack(">qiq", digest.zxid, 2, digest.digest)
    assert struct.unpack_from(">q", trailer, 20) == (zlib.adler32(full[:len(plain) + 20]),)
    assert struct.unpack_from(">q", trailer, 33) == (tree.last_processed_zxid,)
    assert struct.unpack_from(">q", trailer, 41) == (zlib.adler32(full[:len(plain) + 41]),)
    assert len(trailer) == 54


@pytest.mark.parametrize(("digest", "last_zxid"), [(True, True), (True, False), (False, True), (False, False)])
def test_roundtrip_with_every_trailer_combination(digest: bool, last_zxid: bool) -> None:
    tree = workload_tree()
    loaded = load(snapshot_bytes(tree, digest, last_zxid), zxid=tree.last_processed_zxid)
    assert_same_tree(tree, loaded.tree)  # type: ignore[attr-defined]
    assert loaded.tree.last_processed_zxid == tree.last_processed_zxid  # type: ignore[attr-defined]
    expected_digest = ZxidDigest(tree.last_processed_zxid, 2, tree_digest(tree)) if digest else None
    assert loaded.zxid_digest == expected_digest  # type: ignore[attr-defined]
    assert loaded.last_processed_zxid == (tree.last_processed_zxid if last_zxid else None)  # type: ignore[attr-defined]


def test_loaded_tree_keeps_working() -> None:
    tree = workload_tree()
    loaded = load(snapshot_bytes(tree)).tree  # type: ignore[attr-defined]
    assert loaded.approximate_data_size == tree.approximate_data_size
    assert loaded.nodes["/"].acl is loaded.builtin_open_acl == loaded.intern_acl(OPEN_ACL_UNSAFE)
    result = loaded.apply(r.TxnHeader(1, 1, 10**6, 5, OpCode.create),
                          r.CreateTxn("/fresh", b"x", OPEN_ACL_UNSAFE, False, -1))
    assert result.err == 0 and loaded.get_node("/fresh") is not None


def test_output_is_deterministic_and_a_reload_reaches_a_fixpoint() -> None:
    tree = workload_tree()
    data = snapshot_bytes(tree)
    assert snapshot_bytes(tree) == data
    # A reload re-adds children in file order to fresh sets, as ZooKeeper's restart does; a node
    # that once had more children may then iterate them differently, but only the first time.
    once = snapshot_bytes(load(data, zxid=tree.last_processed_zxid).tree)  # type: ignore[attr-defined]
    assert snapshot_bytes(load(once, zxid=tree.last_processed_zxid).tree) == once  # type: ignore[attr-defined]


def test_children_are_written_in_hashset_order() -> None:
    tree = workload_tree(800)
    loaded = load(snapshot_bytes(tree)).tree  # type: ignore[attr-defined]
    for path, node in tree.nodes.items():
        assert list(loaded.nodes[path].children) == node.ordered_children()


def test_acl_table_shares_one_index_per_distinct_acl_and_builtins_use_minus_one() -> None:
    tree = DataTree()
    for i, acl in enumerate([OPEN_ACL_UNSAFE, OPEN_ACL_UNSAFE, [r.ACL(1, r.Id("ip", "10.0.0.1"))]]):
        tree.apply(r.TxnHeader(1, 1, 2 + i, 5, OpCode.create), r.CreateTxn(f"/n{i}", b"", acl, False, -1))
    data = snapshot_bytes(tree, digest=False, last_zxid=False)
    (acl_count,) = struct.unpack_from(">i", data, 20)
    assert acl_count == 3  # open (used by /n0 and /n1), ip, and /zookeeper/config's read-only


def test_chunks_are_bounded_and_the_checksum_spans_them() -> None:
    tree = workload_tree(600)
    chunks = list(serialize_snapshot(tree, zxid_digest=None, last_processed_zxid=None, chunk_size=512))
    assert len(chunks) > 10
    assert max(len(c) for c in chunks[:-1]) < 512 + 6000  # one node past the threshold at most
    assert_same_tree(tree, load(b"".join(chunks), piece=7).tree)  # type: ignore[attr-defined]


def test_a_flipped_byte_fails_the_checksum() -> None:
    tree = workload_tree()
    data = bytearray(snapshot_bytes(tree, digest=False, last_zxid=False))
    data[len(data) // 2] ^= 0x01
    with pytest.raises(CorruptSnapshotError):
        load(bytes(data))


def test_a_damaged_trailer_seal_fails() -> None:
    data = bytearray(snapshot_bytes(workload_tree(50)))
    data[-20] ^= 0x01  # inside the last-zxid trailer
    with pytest.raises(CorruptSnapshotError, match="trailer"):
        load(bytes(data))


@pytest.mark.parametrize("cut", [3, 16, 100, 2000, -13, -1])
def test_truncated_snapshots_fail(cut: int) -> None:
    data = snapshot_bytes(workload_tree(), digest=False, last_zxid=False)
    with pytest.raises(CorruptSnapshotError):
        load(data[:cut])


def test_a_trailer_cut_short_is_ignored_like_zookeeper_does() -> None:
    tree = workload_tree(50)
    data = snapshot_bytes(tree)
    loaded = load(data[:-30])
    assert loaded.zxid_digest is None and loaded.last_processed_zxid is None  # type: ignore[attr-defined]


def test_unknown_acl_index_and_orphan_nodes_are_corruption() -> None:
    tree = DataTree()
    tree.apply(r.TxnHeader(1, 1, 2, 5, OpCode.create), r.CreateTxn("/a", b"", [r.ACL(1, r.Id("ip", "1.2.3.4"))], False, -1))
    data = snapshot_bytes(tree, digest=False, last_zxid=False)
    no_table = bytearray(data)
    struct.pack_into(">i", no_table, 20, 0)
    with pytest.raises(CorruptSnapshotError):
        load(bytes(no_table))
    orphan = data.replace(b"\x00\x00\x00\x02/a", b"\x00\x00\x00\x02/b").replace(b"/zookeeper/quota", b"/zookeeper/q/ota")
    with pytest.raises(CorruptSnapshotError):
        load(orphan)


def test_old_hex_string_digest_trailer_is_read() -> None:
    tree = workload_tree(20)
    body = snapshot_bytes(tree, digest=False, last_zxid=False)
    trailer = struct.pack(">qi", 7, 1) + struct.pack(">i", 4) + b"00ff"
    data = body + trailer
    data += struct.pack(">q", zlib.adler32(data)) + struct.pack(">i", 1) + b"/"
    assert load(data).zxid_digest == ZxidDigest(7, 1, 0xFF)  # type: ignore[attr-defined]


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(trees(), st.integers(1, 300), st.booleans())
def test_any_tree_roundtrips(tree: DataTree, piece: int, digest: bool) -> None:
    data = snapshot_bytes(tree, digest=digest, chunk_size=256)
    loaded = load(data, zxid=tree.last_processed_zxid, piece=piece)
    assert_same_tree(tree, loaded.tree)  # type: ignore[attr-defined]
    if digest and tree.last_processed_zxid > 0:
        assert loaded.zxid_digest.digest == tree_digest(loaded.tree)  # type: ignore[attr-defined]


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_garbage_never_escapes_as_another_exception(garbage: bytes) -> None:
    prefix = snapshot_bytes(DataTree(), digest=False, last_zxid=False)[:40]
    try:
        load(prefix + garbage)
    except CorruptSnapshotError:
        pass


def test_characters_beyond_the_bmp_come_back_as_zookeeper_reads_them() -> None:
    tree = DataTree()
    tree.apply(r.TxnHeader(1, 1, 2, 5, OpCode.create),
               r.CreateTxn("/emoji-\U0001F600", b"", [r.ACL(31, r.Id("digest", "\U0001F600:x"))], False, -1))
    loaded = load(snapshot_bytes(tree)).tree  # type: ignore[attr-defined]
    # Jute writes U+1F600 as two 3-byte surrogates; Java's UTF-8 decoder reads each as U+FFFD.
    assert "/emoji-\ufffd\ufffd" in loaded.nodes
    assert loaded.nodes["/emoji-\ufffd\ufffd"].acl[0].id.id == "\ufffd\ufffd:x"
