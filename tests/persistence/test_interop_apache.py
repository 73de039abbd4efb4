"""zkpy and Apache ZooKeeper 3.8 read each other's data directories.

(a) Apache ZooKeeper runs a varied workload (kazoo plus raw container/TTL creates), is stopped, and
    zkpy restores its logs and snapshots: the tree must equal what kazoo saw, every snapshot's
    ZxidDigest and the logged TxnDigests must match zkpy's tree digest (but where a snapshot
    caught part of the txn after the one its ZxidDigest names, which Apache's restore reports
    too), and zkpy's tree must equal the one Apache's own FileTxnSnapLog.restore builds from the
    same files.
(b) zkpy writes logs and snapshots; Apache's TxnLogToolkit, SnapshotFormatter and
    FileTxnSnapLog.restore read them.
(c) Apache ZooKeeper starts on a data directory written only by zkpy and serves the same tree;
    what it writes afterwards is read back by zkpy.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.security import ACL, Id, make_digest_acl

from tests.persistence import apache_tools
from tests.persistence.fuzzy_replay import fuzzy_dir, in_flight_dir, xfail_if_tree_lacks_fuzzy_replay_rules
from tests.persistence.workload import Workload
from tests.support.rawclient import RawClient
from tests.support.servers import ApacheZkServer, apache_zookeeper_available, four_letter_word
from zkpy.datatree.digest import tree_digest
from zkpy.datatree.tree import DataTree, ephemeral_kind
from zkpy.jute import records as r
from zkpy.jute.constants import OpCode
from zkpy.persistence.names import LOG_PREFIX, SNAPSHOT_PREFIX, VERSION_DIR, zxid_from_name
from zkpy.persistence.restore import restore
from zkpy.persistence.snapshot_files import SnapshotFiles
from zkpy.persistence.txnlog_files import TxnLogFiles, read_log_file

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not apache_zookeeper_available() or apache_tools.missing_tools() is not None,
                       reason=f"Apache ZooKeeper tools unavailable: {apache_tools.missing_tools()}"),
]

PREALLOC = 256 * 1024
StatTuple = tuple[int, ...]


# ------------------------------------------------------------------------------- helpers


def stat_of(node: Any) -> StatTuple:
    """The Stat a client gets for a node (DataNode.copyStat): cversion counts deletes too, and a
    container's or TTL node's ephemeralOwner reads as 0."""
    children = len(node.children)
    cversion = ((node.cversion * 2 - children + 2**31) % 2**32) - 2**31
    owner = node.ephemeral_owner if ephemeral_kind(node.ephemeral_owner) == "normal" else 0
    return (node.czxid, node.mzxid, node.ctime, node.mtime, node.version, cversion, node.aversion, owner,
            len(node.data or b""), children, node.pzxid)


def kazoo_stat(stat: Any) -> StatTuple:
    return (stat.czxid, stat.mzxid, stat.ctime, stat.mtime, stat.version, stat.cversion, stat.aversion,
            stat.ephemeralOwner, stat.dataLength, stat.numChildren, stat.pzxid)


def acl_of(acl: Any) -> list[tuple[int, str, str]]:
    return [(a.perms, a.id.scheme, a.id.id) for a in acl]


def kazoo_view(zk: KazooClient) -> dict[str, tuple[bytes, StatTuple, list[tuple[int, str, str]]]]:
    """Every node as a client sees it: data, Stat and ACL."""
    view = {}
    pending = ["/"]
    while pending:
        paths, pending = pending, []
        data_calls = [(p, zk.get_async(p), zk.get_acls_async(p), zk.get_children_async(p)) for p in paths]
        for path, data_call, acl_call, children_call in data_calls:
            data, stat = data_call.get(timeout=30)
            acls, _ = acl_call.get(timeout=30)
            view[path] = (data or b"", kazoo_stat(stat), [(a.perms, a.id.scheme, a.id.id) for a in acls])
            pending += [("" if path == "/" else path) + "/" + c for c in children_call.get(timeout=30)]
    return view


def zkpy_view(tree: DataTree) -> dict[str, tuple[bytes, StatTuple, list[tuple[int, str, str]]]]:
    return {path: (node.data or b"", stat_of(node), acl_of(node.acl))
            for path, node in tree.nodes.items() if path != ""}


def assert_same_view(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert sorted(actual) == sorted(expected)
    for path, value in expected.items():
        assert actual[path] == value, path


def assert_same_as_apache(tree: DataTree, oracle: apache_tools.OracleTree) -> None:
    """zkpy's tree equals what Apache's FileTxnSnapLog.restore built from the same directory."""
    assert oracle.digest == tree_digest(tree)
    assert sorted(oracle.nodes) == sorted(p for p in tree.nodes if p != "")
    for path, expected in oracle.nodes.items():
        node = tree.nodes[path]
        actual = (node.czxid, node.mzxid, node.ctime, node.mtime, node.version, node.cversion,
                  node.aversion, node.ephemeral_owner, node.pzxid)
        assert (actual, node.data, acl_of(node.acl)) == (expected.stat, expected.data, expected.acl), path
    assert oracle.sessions == tree.sessions


NodeState = tuple[Any, ...]


def node_states(tree: DataTree) -> dict[str, NodeState]:
    return {path: (node.data, node.czxid, node.mzxid, node.ctime, node.mtime, node.version, node.cversion,
                   node.aversion, node.ephemeral_owner, node.pzxid, acl_of(node.acl))
            for path, node in tree.nodes.items() if path != ""}


@dataclass
class DigestReplay:
    """A replay of the log over one snapshot, its digests compared where Apache's restore compares
    them (FileSnap.deserialize, DataTree.compareSnapshotDigests, DataTree.compareDigest): the
    snapshot's ZxidDigest when replay reaches its zxid (at once if that is the snapshot's own, never
    if it is older), then the TxnDigest of every txn from there on."""

    tree: DataTree
    snapshot_zxid: int
    digest_zxid: int | None  # the ZxidDigest's zxid, if it is compared
    failed: list[tuple[int, str]]  # (zxid, "snapshot" | "txn"), in the order Apache reports them
    compared: int
    at_digest_zxid: dict[str, NodeState] | None = None  # the nodes then, if that digest missed


def replay_checking_digests(snapshots: SnapshotFiles, logs: TxnLogFiles, snapshot: Path,
                            every: int) -> DigestReplay:
    """Runs the replay with the tree's incrementally kept digest, checked against a full
    `tree_digest` pass at every `every`-th txn and at the end."""
    loaded = snapshots.load(snapshot)
    tree = loaded.tree
    pending = loaded.zxid_digest
    if pending is not None and pending.zxid < loaded.zxid:
        pending = None
    replay = DigestReplay(tree, loaded.zxid, pending.zxid if pending else None, [], 0)

    def compare(zxid: int, source: str, expected: int) -> None:
        replay.compared += 1
        if tree.digest != expected:
            replay.failed.append((zxid, source))
            if source == "snapshot":
                replay.at_digest_zxid = node_states(tree)

    if pending is not None and pending.zxid == loaded.zxid:
        compare(loaded.zxid, "snapshot", pending.digest)
        pending = None
    entries = list(logs.read_after(loaded.zxid))
    for i, entry in enumerate(entries):
        tree.apply(entry.header, entry.txn)
        if i % every == 0 or i == len(entries) - 1:
            assert tree.digest == tree_digest(tree), f"incremental digest at {entry.zxid:#x}"
        if pending is not None and entry.zxid == pending.zxid:
            compare(entry.zxid, "snapshot", pending.digest)
            pending = None
        # Until replay reaches the snapshot's digest zxid the tree is still fuzzy (it holds
        # effects of later txns), so ZooKeeper compares txn digests only after that.
        if pending is None and entry.digest is not None:
            compare(entry.zxid, "txn", entry.digest.treeDigest)
    return replay


def assert_mismatches_only_from_an_in_flight_txn(replay: DigestReplay, snapshots: SnapshotFiles,
                                                 logs: TxnLogFiles) -> None:
    """The digests a replay misses are those of a snapshot that caught part of the txn after the
    one its ZxidDigest names, and nothing else.

    ZooKeeper applies a txn to the tree first and records its digest after (DataTree.processTxn
    calls logZxidDigest at the end), while FileSnap.serialize reads that record only once its
    fuzzy tree walk is over (DataTree.serializeZxidDigest). A txn applied during the end of the
    walk and recorded after it can therefore be in the snapshot while the ZxidDigest still names
    the txn before, Z. Replaying up to Z then yields the tree of Z with some of txn Z+1 in it:
    the snapshot's digest and the TxnDigest logged at Z both miss, as they do in Apache's own
    restore, and replaying Z+1 makes the tree whole again. Checked here: the misses are exactly
    those two, and every node replay had at Z is as it was at Z or as txn Z+1 left it, by a
    replay from snapshot.0 (the empty tree of the first start, never fuzzy)."""
    if not replay.failed:
        return
    z = replay.digest_zxid
    assert z is not None and replay.at_digest_zxid is not None, replay.failed
    in_flight = [(z, "snapshot")]
    truth = snapshots.load(snapshots.snapshots()[-1]).tree
    assert truth.last_processed_zxid == 0
    at_z: dict[str, NodeState] = {}
    for entry in logs.read_after(0):
        if entry.zxid == z and entry.digest is not None and z > replay.snapshot_zxid:
            in_flight.append((z, "txn"))
        if entry.zxid == z + 1:
            at_z = node_states(truth)
        truth.apply(entry.header, entry.txn)
        if entry.zxid == z + 1:
            break
    assert replay.failed == in_flight
    after = node_states(truth)
    caught = replay.at_digest_zxid
    differing = {p for p in at_z.keys() | caught.keys() if caught.get(p) != at_z.get(p)}
    assert differing, "the tree replayed to Z is the tree of Z, yet its digest missed"
    assert {p: caught.get(p) for p in differing} == {p: after.get(p) for p in differing}


# ------------------------------------------------------------------------------- (a)


def apache_workload(server: ApacheZkServer, rng: random.Random, kept: KazooClient) -> dict[int, int]:
    """Sessions, creates of every kind, data and ACL changes, deletes and multis on Apache.
    Returns the sessions it leaves open besides `kept`'s (id -> negotiated timeout)."""
    kept.add_auth("digest", "alice:secret")
    acls = [
        None,
        [ACL(1, Id("world", "anyone"))],
        [make_digest_acl("alice", "secret", all=True)],
        [ACL(31, Id("auth", ""))],
        [ACL(3, Id("ip", "127.0.0.1")), ACL(1, Id("world", "anyone"))],
    ]
    kept.create("/app", b"root of the workload")
    groups = [f"/app/g{i}" for i in range(20)]
    for group in groups:
        kept.create(group, rng.randbytes(rng.randint(0, 100)), acl=rng.choice([acls[0], acls[2]]))
    calls = []
    for i in range(1500):
        group = rng.choice(groups)
        data = rng.choice([b"", rng.randbytes(rng.randint(1, 50)), rng.randbytes(rng.randint(500, 4000)),
                           f"caf\u00e9 {i}".encode()])
        calls.append(kept.create_async(f"{group}/n{i}", data, acl=rng.choice(acls),
                                       ephemeral=rng.random() < 0.1, sequence=rng.random() < 0.2))
    created = [c.get(timeout=60) for c in calls]
    for path in rng.sample(created, 300):
        kept.set_async(path, rng.randbytes(rng.randint(0, 200)))
    for path in rng.sample(created, 50):
        kept.set_acls_async(path, [make_digest_acl("alice", "secret", all=True)])
    for path in rng.sample(created, 200):
        kept.delete_async(path)
    for i in range(30):
        transaction = kept.transaction()
        transaction.create(f"/app/multi{i}", b"m")
        transaction.set_data(f"/app/multi{i}", b"n")
        transaction.check(f"/app/multi{i}", 1)
        transaction.commit()
    failing = kept.transaction()
    failing.create("/app/never", b"")
    failing.delete("/app/does-not-exist")
    failing.commit()

    closed = KazooClient(hosts=server.address)
    closed.start()
    for i in range(40):
        closed.create(f"/app/gone{i}", b"ephemeral of a closed session", ephemeral=True)
    closed.stop()
    closed.close()

    raw = RawClient(server.port)
    for i in range(10):
        raw.call(OpCode.createContainer, r.CreateRequest(f"/app/container{i}", b"c", [
            r.ACL(31, r.Id("world", "anyone"))], 4))
        raw.call(OpCode.createTTL, r.CreateTTLRequest(f"/app/ttl{i}", b"t", [
            r.ACL(31, r.Id("world", "anyone"))], 5, 3_600_000))
    raw.drop()  # without closing the session
    kept.sync("/")
    return {raw.connect_response.sessionId: raw.connect_response.timeOut}


@pytest.mark.parametrize("compression", ["", "gz", "snappy"])
def test_zkpy_reads_what_apache_wrote(tmp_path: Path, compression: str) -> None:
    server = ApacheZkServer(tmp_path / "zk", extra_config={
        "snapCount": "400",
        "snapshot.compression.method": compression,
        "extendedTypesEnabled": "true",
    })
    with server:
        kept = KazooClient(hosts=server.address)
        kept.start()
        sessions = apache_workload(server, random.Random(len(compression)), kept)
        expected = kazoo_view(kept)
        session_id = kept.client_id[0]
        sessions[session_id] = kept._session_timeout
        # Stop the server with `kept` still open: its session and ephemerals stay on disk.
    kept.stop()
    kept.close()

    data_dir = server.data_dir / VERSION_DIR
    snapshots, logs = SnapshotFiles(data_dir), TxnLogFiles(data_dir)
    snapshot_files = snapshots.snapshots()
    suffix = f".{compression}" if compression else ""
    assert len(snapshot_files) >= 4 and all(p.name.endswith(suffix) for p in snapshot_files)
    assert len(logs.log_files()) >= 4

    result = restore(snapshots, logs, verify_digests=True)
    assert result.snapshot_zxid == zxid_from_name(snapshot_files[0].name, SNAPSHOT_PREFIX)
    tree = result.tree
    assert tree.sessions == sessions
    assert len(tree.containers) == 10 and len(tree.ttls) == 10
    # Apache snapshots while txns keep coming, so replay runs over fuzzy snapshots.
    with xfail_if_tree_lacks_fuzzy_replay_rules():
        apache = apache_tools.restore_with_apache(server.data_dir, server.data_dir)
        assert_same_as_apache(tree, apache)
        assert_same_view(zkpy_view(tree), expected)
        ephemeral_paths = {p for p, (_, stat, _) in expected.items() if stat[7] == session_id}
        assert tree.ephemerals == {session_id: ephemeral_paths}
        for snapshot in snapshot_files:
            replay = replay_checking_digests(snapshots, logs, snapshot, every=97)
            assert_same_view(zkpy_view(replay.tree), expected)
            assert_mismatches_only_from_an_in_flight_txn(replay, snapshots, logs)
            if snapshot == snapshot_files[0]:
                # zkpy's tree misses the digests Apache's misses over the same snapshot and log
                # (normally none), and restore() reports those of them it compares: the
                # snapshot's and the last txn's.
                assert [zxid for zxid, _ in replay.failed] == apache.mismatches
                assert result.digest_mismatches == [
                    zxid for zxid, source in replay.failed if source == "snapshot" or zxid == result.zxid]
        # The last replay was over snapshot.0, the empty tree ZooKeeper writes at first start:
        # not fuzzy, so it matches the TxnDigest of every logged txn that has one.
        assert zxid_from_name(snapshot_files[-1].name, SNAPSHOT_PREFIX) == 0
        assert replay.failed == [] and replay.compared == sum(e.digest is not None for e in logs.read_after(0))
        assert replay.compared > 1000


def test_apache_replays_a_fuzzy_snapshot_by_the_rules_zkpy_expects(tmp_path: Path) -> None:
    snapshots, logs = fuzzy_dir(tmp_path / VERSION_DIR)
    oracle = apache_tools.restore_with_apache(tmp_path, tmp_path)
    assert (oracle.nodes["/p"].stat[5], oracle.nodes["/p"].stat[8]) == (1, 4)
    assert (oracle.nodes["/q"].stat[5], oracle.nodes["/q"].stat[8]) == (1, 5)
    assert (oracle.nodes["/r"].stat[5], oracle.nodes["/r"].stat[8]) == (1, 7)  # create inside a multi
    assert_same_as_apache(restore(snapshots, logs).tree, oracle)



def test_a_snapshot_holding_part_of_the_next_txn_misses_its_digest_in_apache_too(tmp_path: Path) -> None:
    snapshots, logs = in_flight_dir(tmp_path / VERSION_DIR)
    oracle = apache_tools.restore_with_apache(tmp_path, tmp_path)
    assert (oracle.snapshot_zxid, oracle.zxid, oracle.mismatches) == (2, 5, [3, 3])
    result = restore(snapshots, logs, verify_digests=True)
    assert_same_as_apache(result.tree, oracle)
    assert result.digest_mismatches == [3]
    replay = replay_checking_digests(snapshots, logs, snapshots.snapshots()[0], every=1)
    assert replay.failed == [(3, "snapshot"), (3, "txn")]
    assert_mismatches_only_from_an_in_flight_txn(replay, snapshots, logs)


def test_a_snapshot_state_the_next_txn_does_not_explain_is_not_excused(tmp_path: Path) -> None:
    snapshots, logs = in_flight_dir(tmp_path, half_bumped_parent=True)
    replay = replay_checking_digests(snapshots, logs, snapshots.snapshots()[0], every=1)
    assert replay.failed == [(3, "snapshot"), (3, "txn")]
    with pytest.raises(AssertionError):
        assert_mismatches_only_from_an_in_flight_txn(replay, snapshots, logs)


# ------------------------------------------------------------------------------- (b)


def zkpy_data_dir(root: Path, compression: str, seed: int = 11, batches: int = 12,
                  last_zxid_trailer: bool = True, digest: bool = True) -> Workload:
    """A data directory written by zkpy alone: rolled logs and a snapshot after each roll."""
    directory = root / VERSION_DIR
    logs = TxnLogFiles(directory, prealloc_size=PREALLOC)
    snapshots = SnapshotFiles(directory, compression=compression)
    workload = Workload(seed)
    snapshots.write(workload.tree, digest_enabled=digest, last_zxid_enabled=last_zxid_trailer)
    for batch in range(batches):
        for _ in range(5):
            logs.append(workload.txns(20))
            logs.sync()
        if batch % 4 == 3:
            logs.roll()
            snapshots.write(workload.tree, digest_enabled=digest, last_zxid_enabled=last_zxid_trailer)
    logs.append(workload.txns(33))
    logs.sync()
    logs.close()
    workload.check_digest()
    return workload


def test_txn_log_toolkit_reads_zkpy_logs(tmp_path: Path) -> None:
    workload = zkpy_data_dir(tmp_path, "")
    logs = TxnLogFiles(tmp_path / VERSION_DIR)
    total = 0
    for path in logs.log_files():
        entries = list(read_log_file(path))
        completed = apache_tools.txn_log_toolkit(path)
        assert completed.returncode == 0, completed.stderr
        lines = completed.stdout.splitlines()
        assert lines[0] == "ZooKeeper Transactional Log File with dbid 0 txnlog format version 2"
        assert lines[-1] == f"EOF reached after {len(entries)} txns."
        txn_lines = [line for line in lines[1:-1] if " zxid 0x" in line]
        assert [int(re.search(r" zxid 0x([0-9a-f]+) ", line).group(1), 16) for line in txn_lines] == \
            [e.zxid for e in entries]  # type: ignore[union-attr]
        assert not any("CRC ERROR" in line for line in lines)
        total += len(entries)
    assert total == workload.zxid


@pytest.mark.parametrize("compression", ["", "gz", "snappy"])
def test_snapshot_formatter_reads_zkpy_snapshots(tmp_path: Path, compression: str) -> None:
    zkpy_data_dir(tmp_path, compression)
    snapshots = SnapshotFiles(tmp_path / VERSION_DIR)
    for path in snapshots.snapshots():
        tree = snapshots.load(path).tree
        completed = apache_tools.snapshot_formatter(path)
        assert completed.returncode == 0, completed.stderr
        out = completed.stdout
        assert f"ZNode Details (count={len(tree.nodes)}):" in out
        listed = set(re.findall(r"^----\n(/.*)$", out, flags=re.MULTILINE))
        assert listed == {p for p in tree.nodes if p != ""}
        session_lines = re.findall(r"^0x[0-9a-f]+, \d+, \d+$", out, flags=re.MULTILINE)
        assert len(session_lines) == len(tree.sessions)
        last = int(re.search(r"Last zxid: 0x([0-9a-f]+)", out).group(1), 16)  # type: ignore[union-attr]
        assert last >= zxid_from_name(path.name, SNAPSHOT_PREFIX)


@pytest.mark.parametrize(("compression", "last_zxid_trailer", "digest"),
                         [("", True, True), ("gz", True, True), ("snappy", True, True),
                          ("", False, True), ("", True, False), ("", False, False)])
def test_apache_restores_zkpy_data_dirs(tmp_path: Path, compression: str, last_zxid_trailer: bool,
                                        digest: bool) -> None:
    workload = zkpy_data_dir(tmp_path, compression, last_zxid_trailer=last_zxid_trailer, digest=digest)
    oracle = apache_tools.restore_with_apache(tmp_path, tmp_path)
    newest_snapshot = SnapshotFiles(tmp_path / VERSION_DIR).snapshots()[0]
    assert oracle.snapshot_zxid == zxid_from_name(newest_snapshot.name, SNAPSHOT_PREFIX)
    assert oracle.zxid == workload.zxid
    assert oracle.mismatches == []
    assert_same_as_apache(workload.tree, oracle)


def test_apache_ignores_a_torn_tail_like_zkpy(tmp_path: Path) -> None:
    workload = zkpy_data_dir(tmp_path, "", batches=2)
    [*_, newest_log] = TxnLogFiles(tmp_path / VERSION_DIR).log_files()
    last = list(read_log_file(newest_log))[-1]
    with open(newest_log, "r+b") as f:
        f.seek(last.end_offset - 1)
        f.write(b"\x00")  # the end-of-record byte never made it
    oracle = apache_tools.restore_with_apache(tmp_path, tmp_path)
    result = restore(SnapshotFiles(tmp_path / VERSION_DIR), TxnLogFiles(tmp_path / VERSION_DIR))
    assert oracle.zxid == result.zxid == workload.zxid - 1


def test_apache_reads_logs_zkpy_truncated(tmp_path: Path) -> None:
    zkpy_data_dir(tmp_path, "", batches=8)
    logs = TxnLogFiles(tmp_path / VERSION_DIR)
    logs.truncate(450)
    for snapshot in SnapshotFiles(tmp_path / VERSION_DIR).snapshots():
        if zxid_from_name(snapshot.name, SNAPSHOT_PREFIX) > 450:
            snapshot.unlink()
    oracle = apache_tools.restore_with_apache(tmp_path, tmp_path)
    result = restore(SnapshotFiles(tmp_path / VERSION_DIR), TxnLogFiles(tmp_path / VERSION_DIR))
    assert oracle.zxid == result.zxid == 450
    assert oracle.mismatches == []
    assert_same_as_apache(result.tree, oracle)


# ------------------------------------------------------------------------------- (c)


def zkpy_restored(data_dir: Path) -> DataTree:
    return restore(SnapshotFiles(data_dir / VERSION_DIR), TxnLogFiles(data_dir / VERSION_DIR)).tree


def children_orders(server: ApacheZkServer, tree: DataTree) -> dict[str, tuple[list[str], list[str]]]:
    """The nodes whose children Apache lists in another order than zkpy would (none expected):
    ZooKeeper iterates a HashSet filled from the snapshot's order, then from replayed txns."""
    zk = KazooClient(hosts=server.address, auth_data=[("digest", "alice:secret")])
    zk.start()
    try:
        calls = {p: zk.get_children_async(p) for p, n in tree.nodes.items() if p and n.children}
        orders = {p: (call.get(timeout=30), tree.nodes[p].ordered_children()) for p, call in calls.items()}
    finally:
        zk.stop()
        zk.close()
    return {p: pair for p, pair in orders.items() if pair[0] != pair[1]}


@pytest.fixture
def apache_on_zkpy_data(tmp_path: Path) -> Iterator[tuple[ApacheZkServer, Workload]]:
    server = ApacheZkServer(tmp_path / "zk", extra_config={"extendedTypesEnabled": "true"})
    workload = zkpy_data_dir(server.data_dir, "gz")
    yield server, workload
    server.stop()


def test_apache_serves_a_data_dir_written_by_zkpy(apache_on_zkpy_data: tuple[ApacheZkServer, Workload]) -> None:
    server, workload = apache_on_zkpy_data
    restored_by_zkpy = zkpy_restored(server.data_dir)
    server.start()
    assert children_orders(server, restored_by_zkpy) == {}
    zk = KazooClient(hosts=server.address, auth_data=[("digest", "alice:secret")])
    zk.start()
    try:
        assert_same_view(kazoo_view(zk), zkpy_view(workload.tree))
        assert "zk_digest_mismatches_count\t0" in four_letter_word(server.port, "mntr")
        zk.create("/written-by-apache", b"after zkpy")
    finally:
        zk.stop()
        zk.close()
    server.stop()
    # Apache snapshotted at start-up and logged the create; zkpy reads both back.
    result = restore(SnapshotFiles(server.data_dir / VERSION_DIR), TxnLogFiles(server.data_dir / VERSION_DIR),
                     verify_digests=True)
    assert result.digest_mismatches == []
    assert result.tree.nodes["/written-by-apache"].data == b"after zkpy"
    assert result.snapshot_zxid == workload.zxid
    expected, restored = zkpy_view(workload.tree), zkpy_view(result.tree)
    for changed in ("/", "/written-by-apache"):
        restored.pop(changed)
        expected.pop(changed, None)
    assert_same_view(restored, expected)
    assert any(zxid_from_name(p.name, LOG_PREFIX) > workload.zxid for p in (server.data_dir / VERSION_DIR).iterdir())


def test_apache_refuses_logs_without_snapshot_unless_trusted(tmp_path: Path) -> None:
    refused = ApacheZkServer(tmp_path / "refused")
    zkpy_data_dir(refused.data_dir, "", batches=1)
    for snapshot in (refused.data_dir / VERSION_DIR).glob("snapshot.*"):
        snapshot.unlink()
    with pytest.raises((RuntimeError, TimeoutError)):
        refused.start(timeout_s=30)
    refused.stop()
    assert "No snapshot found, but there are log entries" in refused.log_path.read_text()

    trusted = ApacheZkServer(tmp_path / "trusted", extra_config={"snapshot.trust.empty": "true",
                                                              "extendedTypesEnabled": "true"})
    workload = zkpy_data_dir(trusted.data_dir, "", batches=1)
    for snapshot in (trusted.data_dir / VERSION_DIR).glob("snapshot.*"):
        snapshot.unlink()
    with trusted:
        zk = KazooClient(hosts=trusted.address, auth_data=[("digest", "alice:secret")])
        zk.start()
        try:
            assert_same_view(kazoo_view(zk), zkpy_view(workload.tree))
        finally:
            zk.stop()
            zk.close()


def test_logs_and_snapshots_name_files_like_apache(tmp_path: Path) -> None:
    zkpy_data_dir(tmp_path, "snappy", batches=4)
    names = sorted(p.name for p in (tmp_path / VERSION_DIR).iterdir())
    assert all(zxid_from_name(n, LOG_PREFIX) >= 0 or re.fullmatch(r"snapshot\.[0-9a-f]+\.snappy", n) for n in names)
