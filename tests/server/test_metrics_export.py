"""Metrics: the recorders, and the Prometheus exposition against ZooKeeper's names and types.

The expected names and types are the lists of ../shared/docs/operating-facts.md §2.1 (Apache
ZooKeeper's ServerMetrics and registerGauge calls; Debian's package has no Prometheus provider
to scrape), and the layout is simpleclient 0.9.0's text format 0.0.4 as ZooKeeper 3.8/3.9 use it.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from zkpy.datatree.acl import OPEN_ACL_UNSAFE
from zkpy.jute import records as r
from zkpy.jute.constants import OpCode

from zkpy.server.admin_commands import AdminContext
from zkpy.server.metrics import (
    ADVANCED_SUMMARIES,
    ADVANCED_SUMMARY_SETS,
    BASIC_SUMMARIES,
    BASIC_SUMMARY_SETS,
    COUNTERS,
    RESERVOIR_SIZE,
    WINDOW_S,
    Counter,
    PrometheusExport,
    ServerMetrics,
    Summary,
    SummarySet,
    java_hash_order,
    java_string_hash,
    nearest_rank,
)
from zkpy.server.server_spec import LearnerType

from tests.server.fakes import Harness
from tests.server.test_admin_commands import (
    LEADER_ONLY_GAUGES,
    FakeQuorum,
    LearnerInfo,
    World,
    create,
    make_world,
    members,
    quorum_config,
)

# operating-facts.md §2.1: every registerGauge name, and ServerMetrics' kinds (C counter,
# S summary, SS summary set; B/A basic or advanced quantiles). The facts list branch-3.9's
# ServerMetrics; these are Debian's 3.8.0 (javap and its mntr): without 3.9's snapshot/restore
# families, with 3.8's requests_not_forwarded_to_commit_processor.
FACT_GAUGES = set("""
approximate_data_size auth_failed_count avg_latency connection_drop_probability ephemerals_count
global_sessions last_client_response_size last_proposal_size leader_uptime learners local_sessions
max_client_response_size max_file_descriptor_count max_latency max_proposal_size
min_client_response_size min_latency min_proposal_size non_mtls_local_conn_count
non_mtls_remote_conn_count num_alive_connections open_file_descriptor_count outstanding_requests
outstanding_tls_handshake packets_received packets_sent pending_syncs quorum_size synced_followers
synced_non_voting_followers synced_observers uptime watch_count znode_count
""".split())
FACT_KINDS = dict(item.split("=") for item in """
ack_latency=SS/A add_dead_watcher_stall_time=C bytes_received_count=C close_session_prep_time=S/A
cnxn_closed_without_zk_server_running=C commit_commit_proc_req_queued=S/B commit_count=C
commit_process_time=S/B commit_propagation_latency=S/A
concurrent_request_processing_in_commit_processor=S/B connection_drop_count=C
connection_rejected=C connection_request_count=C connection_revalidate_count=C
connection_token_deficit=S/B dbinittime=S/B dead_watchers_cleaner_latency=S/A
dead_watchers_cleared=C dead_watchers_queued=C diff_count=C digest_mismatches_count=C
election_time=S/B ensemble_auth_fail=C ensemble_auth_skip=C ensemble_auth_success=C
follower_sync_time=S/B fsynctime=S/B inflight_diff_count=S/B inflight_snap_count=S/B
insecure_admin_count=C jvm_pause_time_ms=S/A large_requests_rejected=C leader_unavailable_time=S/B
learner_commit_received_count=C learner_handler_qp_size=SS/B learner_handler_qp_time_ms=SS/A
learner_proposal_received_count=C learner_request_processor_queue_size=S/B
local_write_committed_time_ms=S/A looking_count=C netty_queued_buffer_capacity=S/B
node_changed_watch_count=S/B node_children_watch_count=S/B node_created_watch_count=S/B
node_deleted_watch_count=S/B observer_sync_time=S/B om_commit_process_time_ms=S/A
om_proposal_process_time_ms=S/A outstanding_changes_queued=C outstanding_changes_removed=C
pending_session_queue_size=S/B prep_process_time=S/B prep_processor_queue_size=S/B
prep_processor_queue_time_ms=S/A prep_processor_request_queued=C propagation_latency=S/A
proposal_ack_creation_latency=S/A proposal_count=C proposal_latency=S/A proposal_process_time=S/B
quit_leading_due_to_disloyal_voter=C quorum_ack_latency=S/A read_commit_proc_issued=S/B
read_commit_proc_req_queued=S/B read_commitproc_time_ms=S/A read_final_proc_time_ms=S/A
read_per_namespace=SS/B readlatency=S/A reads_after_write_in_session_queue=S/B
reads_issued_from_session_queue=S/B request_commit_queued=C request_throttle_queue_time_ms=S/A
request_throttle_wait_count=C requests_in_session_queue=S/B
requests_not_forwarded_to_commit_processor=C response_bytes=C response_packet_cache_hits=C
response_packet_cache_misses=C response_packet_get_children_cache_hits=C
response_packet_get_children_cache_misses=C revalidate_count=C server_write_committed_time_ms=S/A
session_queues_drained=S/B sessionless_connections_expired=C
skip_learner_request_to_next_processor_count=C snap_count=C snapshottime=S/B
socket_closing_time=S/B stale_replies=C stale_requests=C stale_requests_dropped=C
stale_sessions_expired=C startup_snap_load_time=S/B startup_txns_load_time=S/B
startup_txns_loaded=S/B sync_process_time=S/B sync_processor_batch_size=S/B
sync_processor_queue_and_flush_time_ms=S/A sync_processor_queue_flush_time_ms=S/A
sync_processor_queue_size=S/B sync_processor_queue_time_ms=S/A sync_processor_request_queued=C
throttled_ops=C time_waiting_empty_pool_in_commit_processor_read_ms=S/B tls_handshake_exceeded=C
unavailable_time=S/B unrecoverable_error_count=C unsuccessful_handshake=C updatelatency=S/A
watch_bytes=C write_batch_time_in_commit_processor=S/B write_commit_proc_issued=S/B
write_commit_proc_req_queued=S/B write_commitproc_time_ms=S/A write_final_proc_time_ms=S/A
write_per_namespace=SS/B
""".split())
STANDALONE_GAUGES = FACT_GAUGES - {
    "learners", "synced_followers", "synced_non_voting_followers", "synced_observers",
    "pending_syncs", "leader_uptime", "last_proposal_size", "max_proposal_size",
    "min_proposal_size", "quorum_size"}
PROCESS_FAMILIES = {"process_cpu_seconds_total", "process_resident_memory_bytes",
                    "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                    "process_start_time_seconds"}


def families(text: str) -> dict[str, str]:
    """Family name -> type, as the TYPE lines declare them."""
    out = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            out[name] = kind
    return out


def quantile_labels(family: Any) -> set[str]:
    return {s.labels["quantile"] for s in family.samples if "quantile" in s.labels}


def sample_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


# ---------------------------------------------------------------- recorders


def test_summary_keeps_count_sum_min_max_and_a_bounded_ring() -> None:
    summary = Summary("x", advanced=True)
    for value in range(1, 3 * RESERVOIR_SIZE + 1):
        summary.record(value)
    n = 3 * RESERVOIR_SIZE
    assert (summary.count, summary.min, summary.max) == (n, 1, n)
    assert summary.total == sum(range(1, 3 * RESERVOIR_SIZE + 1))
    window = summary.window(time.monotonic())
    assert window == list(range(2 * RESERVOIR_SIZE + 1, 3 * RESERVOIR_SIZE + 1))


def test_summary_window_rotates_generations() -> None:
    summary = Summary("x")
    start = summary._window_start_s
    summary.record(10)
    assert summary.window(start + WINDOW_S - 1) == [10]
    summary.record(20)
    assert summary.window(start + WINDOW_S) == [10, 20]  # previous generation now
    summary.record(30)
    assert summary.window(start + WINDOW_S + 1) == [10, 20, 30]
    assert summary.window(start + 2 * WINDOW_S) == [30]  # the first generation is gone
    assert summary.window(start + 3 * WINDOW_S) == []


def test_nearest_rank() -> None:
    values = list(range(1, 101))
    assert [nearest_rank(values, q) for q in (0.5, 0.9, 0.99)] == [50.0, 90.0, 99.0]
    assert nearest_rank([7], 0.99) == 7.0
    assert math.isnan(nearest_rank([], 0.5))


def test_default_dump_names() -> None:
    metrics = ServerMetrics()
    metrics.fsynctime.record(4)
    metrics.fsynctime.record(2)
    metrics.readlatency.record(3)
    metrics.ack_latency.record("3", 9)
    metrics.commit_count.add(2)
    dump = dict(metrics.dump())
    assert (dump["avg_fsynctime"], dump["min_fsynctime"], dump["max_fsynctime"],
            dump["cnt_fsynctime"], dump["sum_fsynctime"]) == (3.0, 2, 4, 2, 6)
    assert "p50_fsynctime" not in dump
    assert (dump["p50_readlatency"], dump["p999_readlatency"]) == (3, 3)
    assert dump["avg_3_ack_latency"] == 9.0 and dump["commit_count"] == 2
    empty = (dump["min_snapshottime"], dump["max_snapshottime"], dump["avg_snapshottime"])
    assert empty == (0, 0, 0.0)
    assert dump["p50_updatelatency"] == 0


def test_every_family_of_zookeeper_38_with_its_kind() -> None:
    metrics = ServerMetrics()
    kinds = {}
    for family in metrics.families():
        if isinstance(family, Counter):
            kinds[family.name] = "C"
        else:
            prefix = "S" if isinstance(family, Summary) else "SS"
            kinds[family.name] = f"{prefix}/{'A' if family.advanced else 'B'}"
        assert getattr(metrics, family.name) is family
    assert kinds == FACT_KINDS


def test_dump_order_is_the_default_providers() -> None:
    metrics = ServerMetrics()
    metrics.ack_latency.record("10", 1)
    metrics.ack_latency.record("2", 1)
    metrics.learner_handler_qp_size.record("3", 1)
    names = [name for name, _ in metrics.dump()]
    summaries = [*BASIC_SUMMARIES, *ADVANCED_SUMMARIES]
    assert names[:len(COUNTERS)] == list(COUNTERS)
    assert names[len(COUNTERS)::5][:len(BASIC_SUMMARIES)] == [f"avg_{n}" for n in BASIC_SUMMARIES]
    assert [n[4:] for n in names if n.startswith("avg_")][:len(summaries)] == summaries
    # Summary sets after the summaries, BASIC ones first; keys in ConcurrentHashMap order.
    assert [n for n in names if n.startswith("cnt_") and n[4].isdigit()] == [
        "cnt_3_learner_handler_qp_size", "cnt_2_ack_latency", "cnt_10_ack_latency"]
    assert names[-1] == "p999_10_ack_latency"


def test_java_hash_order_and_string_hash() -> None:
    # What Java 17 prints for these (String.hashCode as unsigned; a ConcurrentHashMap's keySet).
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("polygenelubricants") == 2**31  # Integer.MIN_VALUE
    assert java_string_hash("\u00e9t\u00e9") == 227742
    assert java_string_hash("a\U0001F600") == 1866116  # a surrogate pair: two UTF-16 units
    keys = ["10", "2", "1", "app", "zookeeper", "kafka", "brokers"]
    assert java_hash_order(keys) == ["app", "1", "2", "brokers", "zookeeper", "kafka", "10"]
    assert java_hash_order(["write_per_namespace", "learner_handler_qp_size",
                            "read_per_namespace"]) == list(BASIC_SUMMARY_SETS)
    assert java_hash_order(["learner_handler_qp_time_ms", "ack_latency"]) == list(
        ADVANCED_SUMMARY_SETS)


def test_client_response_sizes_are_replies_without_their_length_prefix() -> None:
    h = Harness(tick_ms=2000)
    metrics = h.server.metrics = ServerMetrics()
    conn, _ = h.connect(timeout_ms=10000)
    # The ConnectResponse is no reply ZooKeeper counts.
    assert (metrics.client_response.last, metrics.client_response.max) == (-1, -1)
    h.call(conn, OpCode.create, r.CreateRequest("/a", b"12345", OPEN_ACL_UNSAFE, 0),
           r.CreateResponse)
    h.call(conn, OpCode.getData, r.GetDataRequest("/a", False), r.GetDataResponse)
    # ReplyHeader 16 + data (4 + 5) + Stat 68; the create's: 16 + path (4 + 2).
    assert (metrics.client_response.last, metrics.client_response.min,
            metrics.client_response.max) == (93, 22, 93)


def test_fsync_threshold_and_reset() -> None:
    metrics = ServerMetrics(fsync_warning_threshold_ms=100)
    metrics.record_fsync(100)
    metrics.record_fsync(101)
    assert metrics.fsync_threshold_exceed_count == 1 and metrics.fsynctime.count == 2
    metrics.ack_latency.record("1", 1)
    metrics.reset()
    assert metrics.fsync_threshold_exceed_count == 0 and metrics.fsynctime.count == 0
    assert metrics.ack_latency.by_key["1"].count == 0


def test_every_recorder_is_named_after_its_attribute() -> None:
    metrics = ServerMetrics()
    for attribute, value in vars(metrics).items():
        if isinstance(value, (Counter, Summary, SummarySet)):
            assert value.name == attribute


# ---------------------------------------------------------------- the exposition


@pytest.fixture()
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


@pytest.fixture()
def export(world: World) -> PrometheusExport:
    return PrometheusExport(world.ctx)


def test_names_and_types_are_zookeepers(export: PrometheusExport) -> None:
    text = export.text()
    declared = families(text)
    zk = {name: kind for name, kind in declared.items()
          if not name.startswith(("process_", "python_"))}
    expected = {name: "counter" if kind == "C" else "summary" for name, kind in FACT_KINDS.items()}
    expected.update(dict.fromkeys(STANDALONE_GAUGES, "gauge"))
    assert zk == expected
    assert PROCESS_FAMILIES <= set(declared)
    # ZooKeeper's own jvm_pause_time_ms summary, but none of the JVM collector's families.
    assert [name for name in declared if name.startswith("jvm_")] == ["jvm_pause_time_ms"]


def test_counters_have_no_total_suffix(world: World, export: PrometheusExport) -> None:
    metrics = world.ctx.metrics
    assert metrics is not None
    metrics.commit_count.add(12)
    text = export.text()
    assert ("# HELP commit_count commit_count\n# TYPE commit_count counter\n"
            "commit_count 12.0\n") in text
    counters = {n for n, k in families(text).items()
                if k == "counter" and not n.startswith(("process_", "python_"))}
    assert counters and not any(n.endswith("_total") for n in counters)
    for line in sample_lines(text):
        name = line.split("{")[0].split(" ")[0]
        if not name.startswith(("process_", "python_")):
            assert not name.endswith(("_total", "_created")), line


def test_summaries_have_zookeepers_quantiles(world: World, export: PrometheusExport) -> None:
    metrics = world.ctx.metrics
    assert metrics is not None
    for value in range(1, 101):
        metrics.readlatency.record(value)
    metrics.fsynctime.record(7)
    metrics.ack_latency.record("2", 5)
    text = export.text()
    assert ('fsynctime{quantile="0.5",} 7.0\nfsynctime_count 1.0\nfsynctime_sum 7.0\n') in text
    assert ('readlatency{quantile="0.5",} 50.0\nreadlatency{quantile="0.9",} 90.0\n'
            'readlatency{quantile="0.99",} 99.0\nreadlatency_count 100.0\n'
            'readlatency_sum 5050.0\n') in text
    assert 'snapshottime{quantile="0.5",} NaN\nsnapshottime_count 0.0\n' in text
    assert ('ack_latency{key="2",quantile="0.5",} 5.0\n' in text
            and 'ack_latency_count{key="2",} 1.0\n' in text)
    parsed = {f.name: f for f in text_string_to_metric_families(text)}
    assert quantile_labels(parsed["readlatency"]) == {"0.5", "0.9", "0.99"}
    for name, kind in FACT_KINDS.items():
        if name in parsed and kind.startswith("S"):
            expected = {"0.5", "0.9", "0.99"} if kind.endswith("A") else {"0.5"}
            assert quantile_labels(parsed[name]) in (expected, set()), name


def test_gauges_are_sampled_at_scrape_time(world: World, export: PrometheusExport) -> None:
    before = world.server.tree.node_count
    assert f"znode_count {float(before)}\n" in export.text()
    create(world.harness, world.a, "/more")
    assert f"znode_count {float(world.server.tree.node_count)}\n" in export.text()


def test_leader_only_gauges_appear_only_on_the_leader(world: World, tmp_path: Path) -> None:
    config = quorum_config(tmp_path)
    world.ctx.four_letter = replace(world.ctx.four_letter, config=config)
    learner = LearnerInfo(3, LearnerType.PARTICIPANT, True, ("127.0.0.1", 1), 0)
    world.ctx.quorum = FakeQuorum(members(config), [learner], leader_uptime_ms=5)
    export = PrometheusExport(world.ctx, export_process_info=False)
    for mode in ("follower", "observer", "standalone"):
        world.mode[0] = mode
        assert not LEADER_ONLY_GAUGES & set(families(export.text())), mode
    world.mode[0] = "leader"
    declared = families(export.text())
    leader_gauges = {name: declared[name] for name in LEADER_ONLY_GAUGES}
    assert leader_gauges == dict.fromkeys(LEADER_ONLY_GAUGES, "gauge")
    assert "leader_uptime 5.0\n" in export.text() and "quorum_size 3.0\n" in export.text()


def test_exposition_without_process_families_and_with_a_name_filter(world: World) -> None:
    export = PrometheusExport(world.ctx, export_process_info=False)
    assert not any(n.startswith(("process_", "python_")) for n in families(export.text()))
    assert set(families(export.text(["znode_count", "fsynctime"]))) == {"znode_count", "fsynctime"}


def test_whole_exposition_parses(export: PrometheusExport) -> None:
    parsed = list(text_string_to_metric_families(export.text()))
    assert len(parsed) == len(families(export.text()))


def test_no_metrics_object_still_gives_gauges(world: World) -> None:
    ctx = AdminContext(world.ctx.four_letter)
    declared = families(PrometheusExport(ctx, export_process_info=False).text())
    assert "znode_count" in declared and "fsynctime" not in declared
    assert "last_client_response_size -1.0\n" in PrometheusExport(ctx, False).text()
