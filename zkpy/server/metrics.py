"""ZooKeeper's server metrics (ServerMetrics) and their Prometheus export.

Theory of operation
-------------------
Two kinds of values, as in ZooKeeper:

* Gauges are not recorded at all: `admin_commands.gauge_values` reads them from the server
  core, the quorum view and the process at scrape (or `mntr`) time.
* Counters and summaries are recorded where things happen, through the attributes of one
  `ServerMetrics` object per server. Recording is O(1) and allocation-free: a `Counter` adds to
  an int; a `Summary` adds to count/sum/min/max and writes the value into a fixed ring of the
  last RESERVOIR_SIZE values. Quantiles are computed from the ring when someone looks.

Quantiles approximate the Java client's sliding 10-minute window: when a scrape finds the
current generation of values older than WINDOW_S, it becomes the previous one and a new one
starts, so quantiles cover between one and two windows of the most recent values (at most
RESERVOIR_SIZE of them). Empty summaries report NaN quantiles, as the Java client does.

The export reproduces what ZooKeeper 3.8/3.9's PrometheusMetricsProvider serves (simpleclient
0.9.0, text format 0.0.4): metric name = help text, no namespace; counters keep their name
without `_total` (prometheus_client would add it, so `exposition` renders the text itself);
BASIC summaries have the quantile 0.5, ADVANCED ones 0.5, 0.9 and 0.99, both with `_count` and
`_sum`; summary sets carry the single label `key`; numbers are printed as Java's doubles;
labels end with a comma. Instead of the JVM's `jvm_*` there are prometheus_client's
`process_*` (the same names as Java's) and `python_*` metrics, controlled by
metricsProvider.exportJvmInfo.

`mntr` shows the same values as each provider's `dump` does: with ZooKeeper's default provider
summaries become avg_/min_/max_/cnt_/sum_ (plus p50_/p95_/p99_/p999_ for ADVANCED ones); with
the Prometheus provider every exported sample appears under its sample name and labels.

Every family of ZooKeeper 3.8's ServerMetrics is registered, also those of its Java-only
machinery (commit processor pools, Netty buffers, response cache, request throttler, JVM
pauses...): dashboards and `mntr` parsers expect the names, and ZooKeeper itself shows them at
their initial values when their code path never runs. `ServerMetrics` lists what zkpy records.
"""

from __future__ import annotations

import math
import struct
import time
from collections.abc import Collection, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from zkpy.server.admin_commands import AdminContext, gauge_values
from zkpy.server.config import PROMETHEUS_METRICS_PROVIDER, ServerConfig
from zkpy.server.fourletter import java_average, java_double

ZKPY_PROMETHEUS_PROVIDER = "zkpy.metrics.prometheus"
"""zkpy's own name for the Prometheus provider; it behaves exactly like ZooKeeper's."""
PROMETHEUS_PROVIDERS = frozenset({PROMETHEUS_METRICS_PROVIDER, ZKPY_PROMETHEUS_PROVIDER})
CONTENT_TYPE_004 = "text/plain; version=0.0.4; charset=utf-8"
BASIC_QUANTILES = (0.5,)
ADVANCED_QUANTILES = (0.5, 0.9, 0.99)
DEFAULT_PERCENTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999))
RESERVOIR_SIZE = 1024
_RING_MASK = RESERVOIR_SIZE - 1
WINDOW_S = 300.0
DEFAULT_FSYNC_WARNING_THRESHOLD_MS = 1000


def prometheus_enabled(config: ServerConfig) -> bool:
    return config.metrics_provider_class_name in PROMETHEUS_PROVIDERS


# ---------------------------------------------------------------- recorders


class Counter:
    __slots__ = ("name", "value")

    def __init__(self, name: str) -> None:
        self.name = name
        self.value = 0

    def add(self, delta: int = 1) -> None:
        self.value += delta

    def reset(self) -> None:
        self.value = 0


class Summary:
    """count/sum/min/max of every value, and the last RESERVOIR_SIZE values for quantiles.
    Values are integers (milliseconds, counts, sizes), as ZooKeeper's summaries take longs.

    `count` doubles as the ring's write index; a generation is the range of indexes recorded
    between two rotations."""

    __slots__ = ("name", "advanced", "count", "total", "min", "max", "_ring", "_previous_start",
                 "_current_start", "_window_start_s")

    def __init__(self, name: str, advanced: bool = False) -> None:
        self.name = name
        self.advanced = advanced
        self.count = 0
        self.total = 0
        self.min: float = math.inf
        self.max: float = -math.inf
        self._ring: list[int] = [0] * RESERVOIR_SIZE
        self._previous_start = 0
        self._current_start = 0
        self._window_start_s = time.monotonic()

    def record(self, value: int) -> None:
        i = self.count
        self._ring[i & _RING_MASK] = value
        self.count = i + 1
        self.total += value
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value

    def window(self, now_s: float) -> list[int]:
        """The recent values, sorted; rotates the generations when the window has passed."""
        if now_s - self._window_start_s >= WINDOW_S:
            self._previous_start, self._current_start = self._current_start, self.count
            self._window_start_s = now_s
        end = self.count
        ring = self._ring
        start = max(self._previous_start, end - RESERVOIR_SIZE)
        return sorted(ring[i & _RING_MASK] for i in range(start, end))

    def reset(self) -> None:
        self.count = self.total = 0
        self.min, self.max = math.inf, -math.inf
        self._previous_start = self._current_start = 0

    @property
    def quantiles(self) -> tuple[float, ...]:
        return ADVANCED_QUANTILES if self.advanced else BASIC_QUANTILES

    def default_values(self, name: str, now_s: float) -> list[tuple[str, object]]:
        """AvgMinMaxCounter.values (and AvgMinMaxPercentileCounter's for ADVANCED ones)."""
        empty = self.count == 0
        values: list[tuple[str, object]] = [
            (f"avg_{name}", java_average(self.total, self.count)),
            (f"min_{name}", 0 if empty else self.min),
            (f"max_{name}", 0 if empty else self.max),
            (f"cnt_{name}", self.count),
            (f"sum_{name}", self.total),
        ]
        if self.advanced:
            window = self.window(now_s)
            values += [(f"{p}_{name}", round(nearest_rank(window, q)) if window else 0)
                       for p, q in DEFAULT_PERCENTILES]
        return values


class SummarySet:
    """Summaries by the label `key` (ZooKeeper's SummarySet)."""

    __slots__ = ("name", "advanced", "by_key")

    def __init__(self, name: str, advanced: bool = False) -> None:
        self.name = name
        self.advanced = advanced
        self.by_key: dict[str, Summary] = {}

    def record(self, key: str, value: int) -> None:
        summary = self.by_key.get(key)
        if summary is None:
            summary = self.by_key[key] = Summary(self.name, self.advanced)
        summary.record(value)

    def reset(self) -> None:
        for summary in self.by_key.values():
            summary.reset()


class BufferStats:
    """Last/min/max size of a kind of buffer, -1 until one is seen (ZooKeeper's BufferStats)."""

    __slots__ = ("last", "min", "max")

    def __init__(self) -> None:
        self.last = self.min = self.max = -1

    def record(self, size: int) -> None:
        self.last = size
        if self.min == -1 or size < self.min:
            self.min = size
        if size > self.max:
            self.max = size

    def reset(self) -> None:
        self.last = self.min = self.max = -1


def nearest_rank(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return math.nan
    return float(sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)])


# ServerMetrics' families as Apache ZooKeeper 3.8 registers them, each kind in the order its
# default provider dumps it: every kind is a ConcurrentHashMap, and these are the iteration
# orders a 3.8 server shows for these names (its table size and hash collisions decide them).
COUNTERS = tuple("""
proposal_count watch_bytes outstanding_changes_removed throttled_ops stale_requests_dropped
large_requests_rejected insecure_admin_count connection_rejected
cnxn_closed_without_zk_server_running sessionless_connections_expired looking_count
dead_watchers_queued stale_requests connection_drop_count learner_proposal_received_count
digest_mismatches_count dead_watchers_cleared response_packet_cache_hits bytes_received_count
add_dead_watcher_stall_time request_throttle_wait_count
requests_not_forwarded_to_commit_processor response_packet_cache_misses ensemble_auth_success
prep_processor_request_queued learner_commit_received_count stale_replies
connection_request_count response_bytes ensemble_auth_fail diff_count
response_packet_get_children_cache_misses connection_revalidate_count
quit_leading_due_to_disloyal_voter snap_count unrecoverable_error_count unsuccessful_handshake
commit_count stale_sessions_expired response_packet_get_children_cache_hits
sync_processor_request_queued outstanding_changes_queued request_commit_queued
ensemble_auth_skip skip_learner_request_to_next_processor_count tls_handshake_exceeded
revalidate_count
""".split())
BASIC_SUMMARIES = tuple("""
socket_closing_time proposal_process_time leader_unavailable_time node_created_watch_count
session_queues_drained write_commit_proc_req_queued connection_token_deficit
read_commit_proc_req_queued node_deleted_watch_count startup_txns_load_time
sync_processor_queue_size follower_sync_time prep_processor_queue_size fsynctime
inflight_snap_count reads_issued_from_session_queue learner_request_processor_queue_size
snapshottime unavailable_time startup_txns_loaded reads_after_write_in_session_queue
requests_in_session_queue write_commit_proc_issued prep_process_time pending_session_queue_size
time_waiting_empty_pool_in_commit_processor_read_ms commit_process_time dbinittime
inflight_diff_count netty_queued_buffer_capacity election_time commit_commit_proc_req_queued
sync_processor_batch_size node_children_watch_count write_batch_time_in_commit_processor
read_commit_proc_issued concurrent_request_processing_in_commit_processor observer_sync_time
node_changed_watch_count sync_process_time startup_snap_load_time
""".split())
ADVANCED_SUMMARIES = tuple("""
prep_processor_queue_time_ms jvm_pause_time_ms close_session_prep_time read_commitproc_time_ms
updatelatency local_write_committed_time_ms request_throttle_queue_time_ms readlatency
quorum_ack_latency om_commit_process_time_ms read_final_proc_time_ms commit_propagation_latency
dead_watchers_cleaner_latency write_final_proc_time_ms proposal_ack_creation_latency
proposal_latency om_proposal_process_time_ms sync_processor_queue_and_flush_time_ms
propagation_latency server_write_committed_time_ms sync_processor_queue_time_ms
sync_processor_queue_flush_time_ms write_commitproc_time_ms
""".split())
BASIC_SUMMARY_SETS = ("learner_handler_qp_size", "read_per_namespace", "write_per_namespace")
ADVANCED_SUMMARY_SETS = ("ack_latency", "learner_handler_qp_time_ms")


def java_hash_order(keys: Iterable[str]) -> list[str]:
    """The iteration order of a ConcurrentHashMap holding `keys`, inserted in the order given:
    by bucket (String.hashCode, spread, masked by the table size the map has grown to), then
    by insertion within a bucket (exact while no resize has split that bucket)."""
    keys = list(keys)
    table_size = 16
    while len(keys) >= table_size * 3 // 4:
        table_size *= 2
    mask = table_size - 1

    def bucket(key: str) -> int:
        h = java_string_hash(key)
        return (h ^ (h >> 16)) & mask

    return sorted(keys, key=bucket)


def java_string_hash(text: str) -> int:
    """String.hashCode over UTF-16 code units, as an unsigned 32-bit number."""
    data = text.encode("utf-16-be")
    h = 0
    for unit in struct.unpack(f">{len(data) // 2}H", data):
        h = (31 * h + unit) & 0xFFFFFFFF
    return h


class ServerMetrics:
    """The counters and summaries of one server: every family of ZooKeeper 3.8's ServerMetrics,
    by the same names. Those nothing in zkpy records keep the values ZooKeeper shows before
    anything is recorded (0, and NaN quantiles in Prometheus), as ZooKeeper's own do when their
    code path never runs.

    Units are ZooKeeper's: times in milliseconds, sizes in bytes, counts as counts."""

    # What zkpy records (every other family is an attribute too, by its name).
    fsynctime: Summary
    snapshottime: Summary
    sync_processor_batch_size: Summary
    readlatency: Summary
    updatelatency: Summary
    election_time: Summary
    follower_sync_time: Summary
    observer_sync_time: Summary
    proposal_count: Counter
    commit_count: Counter
    learner_proposal_received_count: Counter
    learner_commit_received_count: Counter
    snap_count: Counter
    diff_count: Counter
    looking_count: Counter
    revalidate_count: Counter

    def __init__(
        self, fsync_warning_threshold_ms: int = DEFAULT_FSYNC_WARNING_THRESHOLD_MS
    ) -> None:
        self._counters = [Counter(name) for name in COUNTERS]
        self._summaries = ([Summary(name) for name in BASIC_SUMMARIES]
                           + [Summary(name, advanced=True) for name in ADVANCED_SUMMARIES])
        self._summary_sets = ([SummarySet(name) for name in BASIC_SUMMARY_SETS]
                              + [SummarySet(name, advanced=True) for name in ADVANCED_SUMMARY_SETS])
        for family in self.families():
            setattr(self, family.name, family)
        # Not metrics of their own in ZooKeeper: ServerStats fields that `srvr` and the client
        # response size gauges show.
        self.client_response = BufferStats()
        self.fsync_threshold_exceed_count = 0
        self.fsync_warning_threshold_ms = fsync_warning_threshold_ms

    @classmethod
    def for_config(cls, config: ServerConfig) -> ServerMetrics:
        """fsync.warningthresholdms is a JVM flag in ZooKeeper; zkpy reads it from zoo.cfg."""
        threshold = config.extra.get("fsync.warningthresholdms")
        return cls(int(threshold) if threshold else DEFAULT_FSYNC_WARNING_THRESHOLD_MS)

    def record_fsync(self, took_ms: int) -> None:
        """One fsync of the txn log (FileTxnLog.commit), with ZooKeeper's slow-fsync count."""
        self.fsynctime.record(took_ms)
        if took_ms > self.fsync_warning_threshold_ms:
            self.fsync_threshold_exceed_count += 1

    def families(self) -> list[Counter | Summary | SummarySet]:
        """Every family, in the order of `dump`."""
        return [*self._counters, *self._summaries, *self._summary_sets]

    def reset(self) -> None:
        """ServerMetrics.resetAll under the default provider (what `srst` does)."""
        for family in self.families():
            family.reset()
        self.client_response.reset()
        self.fsync_threshold_exceed_count = 0

    def dump(self) -> list[tuple[str, object]]:
        """DefaultMetricsProvider.dump after the gauges: counters, BASIC summaries, ADVANCED
        ones, then the summary sets' entries (avg_<key>_<name>...), BASIC sets first."""
        now_s = time.monotonic()
        out: list[tuple[str, object]] = [(c.name, c.value) for c in self._counters]
        for summary in self._summaries:
            out += summary.default_values(summary.name, now_s)
        for summary_set in self._summary_sets:
            by_key = summary_set.by_key
            for key in java_hash_order(by_key):
                out += by_key[key].default_values(f"{key}_{summary_set.name}", now_s)
        return out


# ---------------------------------------------------------------- Prometheus


class _ZooKeeperCollector(Collector):
    """ZooKeeper's families, sampled at collection time."""

    def __init__(self, ctx: AdminContext) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Metric]:
        ctx = self.ctx
        if ctx.four_letter.server is not None:
            for name, value in gauge_values(ctx):
                # A null gauge is sampled as 0, as PrometheusGaugeWrapper does.
                number = 0.0 if value is None else float(value)  # type: ignore[arg-type]
                yield _metric(name, "gauge", [(name, {}, number)])
        metrics = ctx.metrics
        if metrics is None:
            return
        now_s = time.monotonic()
        for family in metrics.families():
            if isinstance(family, Counter):
                yield _metric(family.name, "counter", [(family.name, {}, float(family.value))])
            elif isinstance(family, Summary):
                yield _metric(family.name, "summary", _summary_samples(family, {}, now_s))
            else:
                samples: list[tuple[str, dict[str, str], float]] = []
                for key in sorted(family.by_key):
                    samples += _summary_samples(family.by_key[key], {"key": key}, now_s)
                yield _metric(family.name, "summary", samples)


def _summary_samples(summary: Summary, labels: dict[str, str],
                     now_s: float) -> list[tuple[str, dict[str, str], float]]:
    window = summary.window(now_s)
    samples = [(summary.name, {**labels, "quantile": java_double(q)}, nearest_rank(window, q))
               for q in summary.quantiles]
    samples.append((summary.name + "_count", labels, float(summary.count)))
    samples.append((summary.name + "_sum", labels, float(summary.total)))
    return samples


def _metric(name: str, kind: str, samples: Iterable[tuple[str, dict[str, str], float]]) -> Metric:
    metric = Metric(name, name, kind)
    for sample_name, labels, value in samples:
        metric.add_sample(sample_name, labels, value)
    return metric


class PrometheusExport:
    """A private registry with ZooKeeper's families and the process's, and its renderings."""

    def __init__(self, ctx: AdminContext, export_process_info: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_ZooKeeperCollector(ctx))
        if export_process_info:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)

    def text(self, names: Collection[str] = ()) -> str:
        return exposition(self.registry.collect(), names)

    def dump(self) -> list[tuple[str, object]]:
        """PrometheusMetricsProvider.dump: every sample as `name{label="value",...}`."""
        out: list[tuple[str, object]] = []
        for family in self.registry.collect():
            _, _, samples = _java_family(family)
            for sample in samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sample.labels.items())
                out.append((f"{sample.name}{{{labels}}}" if labels else sample.name, sample.value))
        return out


_TYPES = {"unknown": "untyped", "info": "gauge", "stateset": "gauge", "gaugehistogram": "histogram"}


def _java_family(family: Metric) -> tuple[str, str, list[Any]]:
    """(name, type, samples) as simpleclient 0.9.0 names them: a counter family is named like
    its sample (with `_total` only when the sample has it), and has no `_created` sample."""
    name = family.name
    samples = [s for s in family.samples if s.name != name + "_created"]
    if family.type == "counter" and any(s.name == name + "_total" for s in samples):
        name += "_total"
    elif family.type == "info":
        name += "_info"
    return name, _TYPES.get(family.type, family.type), samples


def _go_double(value: float) -> str:
    """Collector.doubleToGoString."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return java_double(float(value))


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def exposition(families: Iterable[Metric], names: Collection[str] = ()) -> str:
    """TextFormat.write004; `names` keeps only those families (MetricsServlet's name[])."""
    out: list[str] = []
    for family in families:
        name, kind, samples = _java_family(family)
        if names and name not in names:
            continue
        help_text = family.documentation.replace("\\", "\\\\").replace("\n", "\\n")
        out.append(f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n")
        for sample in samples:
            labels = "".join(f'{k}="{_escape_label(v)}",' for k, v in sample.labels.items())
            out.append(f"{sample.name}{{{labels}}} " if labels else f"{sample.name} ")
            out.append(_go_double(sample.value) + "\n")
    return "".join(out)
