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

from zkpy.server import fourletter
from zkpy.server.admin_commands import AdminContext
from zkpy.server.metrics import (
    RESERVOIR_SIZE,
    WINDOW_S,
    Counter,
    PrometheusExport,
    ServerMetrics,
    Summary,
    SummarySet,
    nearest_rank,
)
from zkpy.server.server_spec import LearnerType

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
# S summary, SS summary set; B/A basic or advanced quantiles).
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
fsynctime=S/B snapshottime=S/B dbinittime=S/B readlatency=S/A updatelatency=S/A
propagation_latency=S/A follower_sync_time=S/B observer_sync_time=S/B election_time=S/B
looking_count=C diff_count=C snap_count=C commit_count=C connection_request_count=C
connection_rejected=C inflight_snap_count=S/B inflight_diff_count=S/B bytes_received_count=C
unrecoverable_error_count=C node_created_watch_count=S/B node_deleted_watch_count=S/B
node_changed_watch_count=S/B node_children_watch_count=S/B stale_sessions_expired=C
unavailable_time=S/B leader_unavailable_time=S/B proposal_latency=S/A
proposal_ack_creation_latency=S/A commit_propagation_latency=S/A
learner_proposal_received_count=C learner_commit_received_count=C startup_txns_loaded=S/B
startup_txns_load_time=S/B startup_snap_load_time=S/B sync_processor_request_queued=C
sync_processor_batch_size=S/B quorum_ack_latency=S/A ack_latency=SS/A proposal_count=C
quit_leading_due_to_disloyal_voter=C digest_mismatches_count=C
""".split())
# The issue: at least what mntr reports, plus the latency, fsync, snapshot, election and sync
# metrics of the facts sheet.
REQUIRED = {name for name, _, present in fourletter._MNTR_GAUGES if present is fourletter._always} | {
    "readlatency", "updatelatency", "propagation_latency", "fsynctime", "snapshottime",
    "election_time", "looking_count", "follower_sync_time", "observer_sync_time", "diff_count",
    "snap_count", "sync_processor_batch_size", "proposal_latency", "quorum_ack_latency",
    "commit_count", "proposal_count",
}
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
    for name, kind in zk.items():
        if kind == "gauge":
            assert name in FACT_GAUGES, name
        else:
            assert name in FACT_KINDS, name
            expected = "counter" if FACT_KINDS[name] == "C" else "summary"
            assert kind == expected, name
    assert REQUIRED <= set(zk), REQUIRED - set(zk)
    assert PROCESS_FAMILIES <= set(declared)
    assert not any(name.startswith("jvm_") for name in declared)


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
