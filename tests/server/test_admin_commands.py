"""AdminServer commands as dicts: names, aliases, key order and values, standalone and quorum.

The key orders pinned here are what Apache ZooKeeper 3.8.0 (Debian) printed for the same
commands, standalone and in a 3-server ensemble (tests/interop/test_admin_interop.py compares
the standalone shapes live).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from zkpy.datatree.acl import OPEN_ACL_UNSAFE
from zkpy.jute import records as r
from zkpy.jute.constants import CreateMode, OpCode
from zkpy.server import admin_commands as ac
from zkpy.server import fourletter
from zkpy.server.admin_commands import AdminContext, LearnerInfo, run_command
from zkpy.server.config import ServerConfig, parse_config
from zkpy.server.metrics import PrometheusExport, ServerMetrics
from zkpy.server.server_spec import LearnerType, QuorumServer
from zkpy.server.version import ZOOKEEPER_VERSION

from tests.server.fakes import FakeConnection, Harness

APACHE_PRIMARY_NAMES = [
    "configuration", "connection_stat_reset", "connections", "dirs", "dump", "environment",
    "get_trace_mask", "hash", "initial_configuration", "is_read_only", "last_snapshot", "leader",
    "monitor", "observer_connection_stat_reset", "observers", "ruok", "server_stats",
    "set_trace_mask", "stat_reset", "stats", "system_properties", "voting_view", "watch_summary",
    "watches", "watches_by_path", "zabstate",
]
ALIASES = {
    "crst": "connection_stat_reset", "conf": "configuration", "config": "configuration",
    "cons": "connections", "env": "environment", "envi": "environment", "gtmk": "get_trace_mask",
    "icfg": "initial_configuration", "isro": "is_read_only", "lsnp": "last_snapshot",
    "lead": "leader", "mntr": "monitor", "orst": "observer_connection_stat_reset",
    "stmk": "set_trace_mask", "srvr": "server_stats", "stat": "stats", "srst": "stat_reset",
    "obsr": "observers", "sysp": "system_properties", "wchc": "watches",
    "wchp": "watches_by_path", "wchs": "watch_summary",
}
END = ["command", "error"]
SERVER_STATS_KEYS = [
    "packets_sent", "packets_received", "fsync_threshold_exceed_count", "client_response_stats",
    "data_dir_size", "log_dir_size", "provider_null", "server_state", "last_processed_zxid",
    "outstanding_requests", "avg_latency", "max_latency", "min_latency",
    "num_alive_client_connections", "uptime", "auth_failed_count", "non_mtlsremote_conn_count",
    "non_mtlslocal_conn_count",
]
BUFFER_KEYS = ["last_buffer_size", "min_buffer_size", "max_buffer_size"]
BRIEF_CONNECTION_KEYS = ["remote_socket_address", "interest_ops", "outstanding_requests",
                         "packets_received", "packets_sent"]
CONNECTION_KEYS = BRIEF_CONNECTION_KEYS + [
    "session_id", "last_operation", "established", "session_timeout", "last_cxid", "last_zxid",
    "last_response_time", "last_latency", "min_latency", "avg_latency", "max_latency",
]
SRVR_KEYS = ["version", "read_only", "server_stats", "client_response", "node_count"]
# Top-level keys of a standalone Apache ZooKeeper 3.8.0, in its order.
APACHE_STANDALONE_KEYS: dict[str, list[str]] = {
    "ruok": END,
    "server_stats": SRVR_KEYS + END,
    "stats": SRVR_KEYS + ["connections", "secure_connections"] + END,
    "configuration": ["client_port", "data_dir", "data_log_dir", "tick_time", "max_client_cnxns",
                      "min_session_timeout", "max_session_timeout", "server_id",
                      "client_port_listen_backlog"] + END,
    "connections": ["connections", "secure_connections"] + END,
    "connection_stat_reset": END,
    "dirs": ["datadir_size", "logdir_size"] + END,
    "dump": ["expiry_time_to_session_ids", "session_id_to_ephemeral_paths"] + END,
    "environment": [key for key, _ in fourletter.environment()] + END,
    "get_trace_mask": ["tracemask"] + END,
    "hash": ["digests"] + END,
    "initial_configuration": ["initial_configuration"] + END,
    "is_read_only": ["read_only"] + END,
    "last_snapshot": ["zxid", "timestamp"] + END,
    "leader": ["error", "command"],
    "observer_connection_stat_reset": END,
    "observers": ["synced_observers", "observers"] + END,
    "stat_reset": END,
    "voting_view": ["current_config"] + END,
    "watches": ["session_id_to_watched_paths"] + END,
    "watches_by_path": ["path_to_session_ids"] + END,
    "watch_summary": ["num_connections", "num_paths", "num_total_watches"] + END,
    "zabstate": ["voting", "zabstate"] + END,
}
# From a 3-server Apache ZooKeeper 3.8.0 ensemble.
ZABSTATE_QUORUM_KEYS = ["myid", "is_leader", "quorum_address", "election_address",
                        "client_address", "voting", "last_zxid", "zab_epoch", "zab_counter",
                        "zabstate"] + END
MULTIPLE_ADDRESSES_KEYS = ["empty", "all_addresses", "all_reachable_addresses", "one",
                           "reachable_address", "wildcard_addresses", "all_ports",
                           "all_host_strings", "all_reachable_addresses_or_all",
                           "reachable_or_one"]
QUORUM_SERVER_VIEW_KEYS = ["server_addresses", "election_addresses", "client_address",
                           "learner_type"]
LEARNER_INFO_KEYS = ["remote_socket_address", "sid", "established", "queued_packets",
                     "queued_packets_size", "packets_received", "packets_sent", "requests",
                     "last_zxid"]
# The gauges of an Apache ZooKeeper 3.8.0 leader's mntr, in its order.
APACHE_LEADER_GAUGES = """
ephemerals_count num_alive_connections avg_latency min_proposal_size outstanding_requests
znode_count global_sessions non_mtls_remote_conn_count last_client_response_size packets_sent
packets_received max_proposal_size max_client_response_size synced_followers
connection_drop_probability watch_count synced_non_voting_followers synced_observers
auth_failed_count min_latency max_file_descriptor_count approximate_data_size
open_file_descriptor_count last_proposal_size pending_syncs leader_uptime local_sessions uptime
max_latency outstanding_tls_handshake learners min_client_response_size
non_mtls_local_conn_count quorum_size
""".split()
LEADER_ONLY_GAUGES = {"learners", "synced_followers", "synced_non_voting_followers",
                      "pending_syncs", "leader_uptime", "last_proposal_size",
                      "max_proposal_size", "min_proposal_size"}


def create(h: Harness, conn: FakeConnection, path: str, data: bytes = b"",
           mode: int = CreateMode.PERSISTENT) -> None:
    request = r.CreateRequest(path, data, OPEN_ACL_UNSAFE, int(mode))
    header, _ = h.call(conn, OpCode.create, request, r.CreateResponse)
    assert header.err == 0, header


def watch_data(h: Harness, conn: FakeConnection, path: str) -> None:
    h.call(conn, OpCode.getData, r.GetDataRequest(path, True))


def make_config(tmp_path: Path, extra: str = "") -> ServerConfig:
    return parse_config(f"tickTime=2000\ndataDir={tmp_path / 'data'}\nclientPort=2181\n{extra}",
                        "zoo.cfg")


def quorum_config(tmp_path: Path, server_id: int = 2) -> ServerConfig:
    text = (f"tickTime=2000\ndataDir={tmp_path / 'data'}\ninitLimit=5\nsyncLimit=2\n"
            "server.1=127.0.0.1:2888:3888;127.0.0.1:2181\n"
            "server.2=127.0.0.1:2889:3889;2182\n"
            "server.3=127.0.0.1:2890:3890\n"
            "server.4=127.0.0.1:2891:3891:observer;127.0.0.1:2184\n")
    return parse_config(text, "zoo.cfg", server_id=server_id)


@dataclass
class FakeQuorum:
    """A QuorumView as the ensemble code will provide it."""

    members_: Mapping[int, QuorumServer]
    learners_: Sequence[LearnerInfo] = ()
    leader_id: int = 1
    leader_address: str | None = "127.0.0.1"
    zab_state: str = "BROADCAST"
    sync_mode: str = "NONE"
    pending_syncs: int = 0
    leader_uptime_ms: int = 0
    proposal_sizes: tuple[int, int, int] = (-1, -1, -1)
    resets: int = 0

    def members(self) -> Mapping[int, QuorumServer]:
        return self.members_

    def learners(self) -> Sequence[LearnerInfo]:
        return self.learners_

    def reset_observer_stats(self) -> None:
        self.resets += 1


@dataclass
class World:
    harness: Harness
    ctx: AdminContext
    a: FakeConnection
    b: FakeConnection
    mode: list[str] = field(default_factory=lambda: ["standalone"])

    @property
    def server(self) -> Any:
        return self.harness.server

    def run(self, name: str, **params: str) -> dict[str, object]:
        return run_command(name, self.ctx, params)


def make_world(tmp_path: Path) -> World:
    """A core with two sessions, ephemerals and watches, behind an AdminContext."""
    h = Harness(tick_ms=2000)
    a, _ = h.connect(timeout_ms=10000)
    b, _ = h.connect(timeout_ms=10000)
    a.remote_address = ("127.0.0.1", 40001)
    b.remote_address = ("::1", 40002)
    create(h, a, "/app", b"hello")
    create(h, a, "/app/e1", mode=CreateMode.EPHEMERAL)
    create(h, b, "/app/e2", mode=CreateMode.EPHEMERAL)
    watch_data(h, a, "/app")
    h.call(b, OpCode.exists, r.ExistsRequest("/app", True))
    h.call(b, OpCode.exists, r.ExistsRequest("/nothere", True))
    h.call(a, OpCode.getChildren, r.GetChildrenRequest("/app", True))
    mode = ["standalone"]
    four = fourletter.FourLetterContext(h.server, make_config(tmp_path, "custom.key=1\n"),
                                        lambda: mode[0], time.monotonic())
    ctx = AdminContext(four, metrics=ServerMetrics(), initial_config="tickTime=2000\n")
    return World(h, ctx, a, b, mode)


@pytest.fixture()
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def keys(value: object) -> list[str]:
    assert isinstance(value, dict), value
    return list(value)


# ---------------------------------------------------------------- names


def test_primary_names_and_aliases_are_zookeepers() -> None:
    assert ac.primary_names() == APACHE_PRIMARY_NAMES
    for alias, primary in ALIASES.items():
        assert ac.BY_NAME[alias].primary == primary
    assert set(ac.BY_NAME) == set(APACHE_PRIMARY_NAMES) | set(ALIASES)


@pytest.mark.parametrize("name", sorted(set(APACHE_PRIMARY_NAMES) | set(ALIASES)))
def test_every_name_answers_with_command_and_error(world: World, name: str) -> None:
    out = world.run(name)
    assert out["command"] == ac.BY_NAME[name].primary
    assert "error" in out


@pytest.mark.parametrize("name", sorted(APACHE_STANDALONE_KEYS))
def test_standalone_key_order_is_apaches(world: World, name: str) -> None:
    assert keys(world.run(name)) == APACHE_STANDALONE_KEYS[name]


def test_unknown_command(world: World) -> None:
    assert world.run("nosuch") == {"command": "nosuch", "error": "Unknown command: nosuch"}
    assert keys(world.run("ruok/x")) == END


def test_not_serving_answers_with_the_name_as_asked(world: World) -> None:
    world.server.serving = False
    for name in ("srvr", "cons", "ruok", "mntr", "lead"):
        assert world.run(name) == {"command": name, "error": ac.NOT_SERVING_ERROR}
    # These need no server.
    assert world.run("envi")["error"] is None
    assert world.run("gtmk")["tracemask"] == fourletter.DEFAULT_TRACE_MASK
    assert world.run("sysp")["error"] is None
    assert world.run("zabstate") == {"voting": False, "zabstate": "", "command": "zabstate",
                                     "error": None}


# ---------------------------------------------------------------- values


def test_srvr_and_stat(world: World) -> None:
    out = world.run("srvr")
    assert out["version"] == ZOOKEEPER_VERSION and out["read_only"] is False
    stats = out["server_stats"]
    assert keys(stats) == SERVER_STATS_KEYS
    assert keys(stats["client_response_stats"]) == BUFFER_KEYS  # type: ignore[index]
    assert stats["server_state"] == "standalone"  # type: ignore[index]
    assert stats["num_alive_client_connections"] == 2  # type: ignore[index]
    assert stats["last_processed_zxid"] == world.server.last_zxid  # type: ignore[index]
    assert isinstance(stats["avg_latency"], float)  # type: ignore[index]
    assert out["client_response"] == dict.fromkeys(BUFFER_KEYS, -1)
    assert out["node_count"] == world.server.tree.node_count
    stat = world.run("stat")
    connections = stat["connections"]
    assert isinstance(connections, list)
    assert [keys(c) for c in connections] == [BRIEF_CONNECTION_KEYS] * 2
    assert stat["secure_connections"] == []


def test_client_response_and_fsync_threshold_come_from_the_metrics(world: World) -> None:
    metrics = world.ctx.metrics
    assert metrics is not None
    metrics.client_response.record(38)
    metrics.client_response.record(16)
    metrics.record_fsync(5000)
    out = world.run("srvr")
    assert out["client_response"] == {"last_buffer_size": 16, "min_buffer_size": 16,
                                      "max_buffer_size": 38}
    assert out["server_stats"]["fsync_threshold_exceed_count"] == 1  # type: ignore[index]


def test_cons(world: World) -> None:
    connections = world.run("cons")["connections"]
    assert isinstance(connections, list) and len(connections) == 2
    by_address = {c["remote_socket_address"]: c for c in connections}
    assert set(by_address) == {"127.0.0.1:40001", "[0:0:0:0:0:0:0:1]:40002"}
    a = by_address["127.0.0.1:40001"]
    assert keys(a) == CONNECTION_KEYS
    assert a["session_id"] == world.a.session_id
    assert a["last_operation"] == "GETC" and a["session_timeout"] == 10000
    assert a["packets_received"] == world.a.stats.packets_received


def test_crst_and_srst_reset(world: World) -> None:
    metrics = world.ctx.metrics
    assert metrics is not None
    metrics.commit_count.add(3)
    assert world.a.stats.packets_received > 0
    world.run("crst")
    assert world.a.stats.packets_received == 0
    world.run("srst")
    assert world.server.stats.packets_received == 0
    assert metrics.commit_count.value == 0


def test_srst_leaves_prometheus_values_alone(world: World) -> None:
    metrics = world.ctx.metrics
    assert metrics is not None
    world.ctx.prometheus = PrometheusExport(world.ctx, export_process_info=False)
    metrics.commit_count.add(3)
    world.run("srst")
    assert metrics.commit_count.value == 3


def test_conf_dirs_icfg_isro(world: World, tmp_path: Path) -> None:
    conf = world.run("conf")
    assert conf["data_dir"] == str(tmp_path / "data" / "version-2")
    assert conf["client_port"] == 2181 and conf["server_id"] == 0
    assert conf["min_session_timeout"] == 4000 and conf["client_port_listen_backlog"] == -1
    log_dir = tmp_path / "data" / "version-2"
    log_dir.mkdir(parents=True)
    (log_dir / "log.1").write_bytes(b"x" * 10)
    assert world.run("dirs")["datadir_size"] == 10
    assert world.run("icfg")["initial_configuration"] == "tickTime=2000\n"
    assert world.run("isro")["read_only"] is False
    world.mode[0] = "read-only"
    assert world.run("isro")["read_only"] is True
    assert world.run("srvr")["read_only"] is True


def test_dump_and_watches(world: World) -> None:
    a, b = world.a.session_id, world.b.session_id
    dump = world.run("dump")
    assert dump["session_id_to_ephemeral_paths"] == {a: ["/app/e1"], b: ["/app/e2"]}
    expiry = dump["expiry_time_to_session_ids"]
    assert isinstance(expiry, dict)
    assert sorted(s for ids in expiry.values() for s in ids) == sorted([a, b])
    # Data watches only, as ZooKeeper's DataTree reports them.
    assert world.run("wchc")["session_id_to_watched_paths"] == {
        **{a: ["/app"]}, **{b: ["/app", "/nothere"]}}
    assert world.run("wchp")["path_to_session_ids"] == {"/app": sorted([a, b]), "/nothere": [b]}
    summary = world.run("wchs")
    counts = (summary["num_connections"], summary["num_paths"], summary["num_total_watches"])
    assert counts == (2, 2, 3)


def test_trace_mask(world: World) -> None:
    assert world.run("stmk", traceMask="5") == {"tracemask": 5, "command": "set_trace_mask",
                                                "error": None}
    assert world.run("gtmk")["tracemask"] == 5
    assert world.ctx.four_letter.trace_mask == 5
    for bad in ("abc", " 5", "5_0", "9223372036854775808", ""):
        out = world.run("stmk", traceMask=bad)
        assert out == {"error": f"setTraceMask requires long traceMask argument, got {bad}",
                       "command": "set_trace_mask"}
    assert world.run("stmk", traceMask="-9223372036854775808")["tracemask"] == -(1 << 63)
    assert world.run("stmk", traceMask="+7")["tracemask"] == 7


def test_last_snapshot(world: World, tmp_path: Path) -> None:
    snap_dir = tmp_path / "data" / "version-2"
    snap_dir.mkdir(parents=True)
    for name in ("snapshot.5", "snapshot.1a", "snapshot.ff.tmp", "log.100"):
        (snap_dir / name).write_bytes(b"x")
    os.utime(snap_dir / "snapshot.1a", (1_700_000_000, 1_700_000_000))
    assert world.run("lsnp") == {"zxid": "1a", "timestamp": 1_700_000_000,
                                 "command": "last_snapshot", "error": None}


def test_last_snapshot_without_one(world: World) -> None:
    out = world.run("lsnp")
    assert (out["zxid"], out["timestamp"]) == ("ffffffffffffffff", -1)


def test_sysp_and_envi(world: World) -> None:
    sysp = world.run("sysp")
    props = [k for k in keys(sysp) if k not in END]
    assert props == sorted(props)
    assert sysp["zookeeper.custom.key"] == "1"
    assert {"java.version", "os.name", "user.dir", "file.separator", "line.separator"} <= set(props)
    envi = world.run("envi")
    assert envi["zookeeper.version"] == ZOOKEEPER_VERSION


def test_mntr_standalone(world: World) -> None:
    mntr = world.run("mntr")
    names = keys(mntr)
    assert names[:2] == ["version", "server_state"] and names[-2:] == END
    assert mntr["znode_count"] == world.server.tree.node_count
    assert isinstance(mntr["avg_latency"], float)
    # Every gauge that exists standalone, in Apache's order, then the metrics' default dump.
    gauges = [name for name, when, _ in ac.GAUGES if when == ac.ALWAYS]
    assert names[2:2 + len(gauges)] == gauges
    assert names[2 + len(gauges):-2] == [key for key, _ in world.ctx.metrics.dump()]
    assert {"commit_count", "avg_fsynctime", "p99_readlatency", "cnt_election_time"} <= set(names)
    assert not LEADER_ONLY_GAUGES & set(names)
    assert "peer_state" not in names and "quorum_size" not in names
    assert (mntr["connection_drop_probability"], mntr["local_sessions"]) == (0.0, 0)
    assert mntr["last_client_response_size"] == -1


def test_mntr_under_the_prometheus_provider_uses_sample_names(world: World) -> None:
    world.ctx.prometheus = PrometheusExport(world.ctx, export_process_info=False)
    mntr = world.run("mntr")
    assert mntr["znode_count"] == float(world.server.tree.node_count)
    assert 'fsynctime{quantile="0.5"}' in mntr and "fsynctime_count" in mntr
    assert "avg_fsynctime" not in mntr


def test_standalone_answers_of_ensemble_commands(world: World) -> None:
    assert world.run("lead") == {"error": "server is not initialized", "command": "leader"}
    assert world.run("voting_view")["current_config"] == {}
    assert world.run("obsr")["observers"] == [] and world.run("obsr")["synced_observers"] == 0
    assert world.run("hash")["digests"] == []


# ---------------------------------------------------------------- with a quorum view


def members(config: ServerConfig) -> dict[int, QuorumServer]:
    return dict(config.servers)


@pytest.fixture()
def quorum_world(world: World, tmp_path: Path) -> World:
    config = quorum_config(tmp_path)
    world.ctx.four_letter = replace(world.ctx.four_letter, config=config)
    established_ms = 1_700_000_000_000
    observer = LearnerInfo(4, LearnerType.OBSERVER, True, ("127.0.0.1", 50004), established_ms,
                           packets_received=7, last_zxid=0x100000002)
    follower = LearnerInfo(3, LearnerType.PARTICIPANT, True, ("127.0.0.1", 50003),
                           established_ms)
    world.ctx.quorum = FakeQuorum(members(config), [follower, observer], leader_id=2,
                                  pending_syncs=1, leader_uptime_ms=4242)
    world.mode[0] = "leader"
    return world


def test_leader(quorum_world: World) -> None:
    out = quorum_world.run("lead")
    assert out == {"is_leader": True, "leader_id": 2, "leader_ip": "127.0.0.1",
                   "command": "leader", "error": None}
    quorum_world.mode[0] = "follower"
    assert quorum_world.run("lead")["is_leader"] is False


def test_voting_view_lists_participants(quorum_world: World) -> None:
    view = quorum_world.run("voting_view")["current_config"]
    assert isinstance(view, dict) and list(view) == [1, 2, 3]
    assert keys(view[1]) == QUORUM_SERVER_VIEW_KEYS
    assert view[1] == {"server_addresses": ["127.0.0.1:2888"],
                       "election_addresses": ["127.0.0.1:3888"],
                       "client_address": "127.0.0.1:2181", "learner_type": "participant"}
    assert view[2]["client_address"] == "0.0.0.0:2182"
    assert view[3]["client_address"] == ""


def test_zabstate_on_a_quorum_peer(quorum_world: World) -> None:
    out = quorum_world.run("zabstate")
    assert keys(out) == ZABSTATE_QUORUM_KEYS
    assert keys(out["quorum_address"]) == MULTIPLE_ADDRESSES_KEYS
    assert out["quorum_address"]["one"] == "127.0.0.1:2889"  # type: ignore[index]
    assert out["election_address"]["wildcard_addresses"] == ["0.0.0.0:3889"]  # type: ignore[index]
    assert out["client_address"] == "0.0.0.0:2182"
    summary = (out["myid"], out["is_leader"], out["voting"], out["zabstate"])
    assert summary == (2, True, True, "broadcast")
    zxid = quorum_world.server.last_zxid
    assert out["last_zxid"] == f"0x{zxid:x}" and out["zab_counter"] == zxid


def test_observers_and_their_reset(quorum_world: World) -> None:
    out = quorum_world.run("obsr")
    assert out["synced_observers"] == 1
    observers = out["observers"]
    assert isinstance(observers, list) and [keys(o) for o in observers] == [LEARNER_INFO_KEYS]
    assert observers[0]["remote_socket_address"] == "/127.0.0.1:50004"
    assert observers[0]["sid"] == 4 and observers[0]["packets_received"] == 7
    quorum_world.run("orst")
    assert quorum_world.ctx.quorum.resets == 1  # type: ignore[union-attr]


def test_a_follower_without_observers_answers_like_a_standalone(quorum_world: World) -> None:
    quorum_world.mode[0] = "follower"
    quorum_world.ctx.quorum.learners_ = ()  # type: ignore[union-attr]
    assert quorum_world.run("obsr")["synced_observers"] == 0
    gauges = dict(ac.gauge_values(quorum_world.ctx))
    assert gauges["synced_observers"] is None
    assert "synced_observers" not in quorum_world.run("mntr")


def test_srvr_on_the_leader_has_proposal_stats(quorum_world: World) -> None:
    expected = SRVR_KEYS[:4] + ["proposal_stats", "node_count"] + END
    quorum_world.ctx.quorum.proposal_sizes = (40, 36, 120)  # type: ignore[union-attr]
    srvr = quorum_world.run("srvr")
    assert keys(srvr) == expected
    assert srvr["proposal_stats"] == {"last_buffer_size": 40, "min_buffer_size": 36,
                                      "max_buffer_size": 120}
    quorum_world.mode[0] = "follower"
    assert "proposal_stats" not in quorum_world.run("srvr")


def test_mntr_on_the_leader_and_on_a_follower(quorum_world: World) -> None:
    mntr = quorum_world.run("mntr")
    assert keys(mntr)[:3] == ["version", "server_state", "peer_state"]
    assert mntr["peer_state"] == "leading - broadcast"
    assert LEADER_ONLY_GAUGES | {"synced_observers", "quorum_size"} <= set(mntr)
    assert (mntr["learners"], mntr["synced_followers"], mntr["synced_observers"]) == (2, 1, 1)
    assert (mntr["quorum_size"], mntr["pending_syncs"], mntr["leader_uptime"]) == (3, 1, 4242)
    assert (mntr["last_proposal_size"], mntr["min_proposal_size"]) == (-1, -1)
    # Apache 3.8's leader: all gauges in one table, leader-only ones among the others.
    gauges = [name for name, _, _ in ac.GAUGES]
    assert keys(mntr)[3:3 + len(gauges)] == gauges == APACHE_LEADER_GAUGES
    quorum_world.mode[0] = "follower"
    follower = quorum_world.run("mntr")
    assert not LEADER_ONLY_GAUGES & set(follower)
    assert follower["peer_state"] == "following - broadcast"
    follower_gauges = [k for k in APACHE_LEADER_GAUGES if k not in LEADER_ONLY_GAUGES]
    assert keys(follower)[3:3 + len(follower_gauges)] == follower_gauges
    quorum_world.mode[0] = "observer"
    assert quorum_world.run("mntr")["observer_master_id"] == 2


@pytest.mark.parametrize(("mode", "zab", "sync", "expected"), [
    ("follower", "BROADCAST", "NONE", "following - broadcast"),
    ("leader", "SYNCHRONIZATION", "DIFF", "leading - synchronization - diff"),
    ("read-only", "ELECTION", "NONE", "looking"),
    ("observer", "DISCOVERY", "SNAP", "observing - discovery - snap"),
])
def test_detailed_peer_state(mode: str, zab: str, sync: str, expected: str) -> None:
    quorum = FakeQuorum({}, zab_state=zab, sync_mode=sync)
    assert ac.detailed_peer_state(mode, quorum) == expected


def test_ensemble_commands_answer_standalone_while_not_serving(quorum_world: World) -> None:
    quorum_world.server.serving = False
    assert quorum_world.run("zabstate") == {"voting": False, "zabstate": "",
                                            "command": "zabstate", "error": None}
