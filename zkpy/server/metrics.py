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

Only metrics that zkpy has a place to record are registered: those of ZooKeeper's Java-only
machinery (commit processor pools, Netty buffers, response cache, request throttler, JVM
pauses...) are left out rather than reported as everlasting zeros.
"""

from __future__ import annotations

import math
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


class ServerMetrics:
    """The counters and summaries of one server, named as in ZooKeeper's ServerMetrics.

    Units are ZooKeeper's: times in milliseconds, sizes in bytes, counts as counts."""

    def __init__(
        self, fsync_warning_threshold_ms: int = DEFAULT_FSYNC_WARNING_THRESHOLD_MS
    ) -> None:
        # Storage and start-up.
        self.fsynctime = Summary("fsynctime")
        self.snapshottime = Summary("snapshottime")
        self.dbinittime = Summary("dbinittime")
        self.startup_txns_loaded = Summary("startup_txns_loaded")
        self.startup_txns_load_time = Summary("startup_txns_load_time")
        self.startup_snap_load_time = Summary("startup_snap_load_time")
        self.sync_processor_batch_size = Summary("sync_processor_batch_size")
        self.sync_processor_request_queued = Counter("sync_processor_request_queued")
        self.unrecoverable_error_count = Counter("unrecoverable_error_count")
        # Requests, connections, sessions, watches.
        self.readlatency = Summary("readlatency", advanced=True)
        self.updatelatency = Summary("updatelatency", advanced=True)
        self.propagation_latency = Summary("propagation_latency", advanced=True)
        self.connection_request_count = Counter("connection_request_count")
        self.connection_rejected = Counter("connection_rejected")
        self.bytes_received_count = Counter("bytes_received_count")
        self.stale_sessions_expired = Counter("stale_sessions_expired")
        self.node_created_watch_count = Summary("node_created_watch_count")
        self.node_deleted_watch_count = Summary("node_deleted_watch_count")
        self.node_changed_watch_count = Summary("node_changed_watch_count")
        self.node_children_watch_count = Summary("node_children_watch_count")
        # Election and sync.
        self.election_time = Summary("election_time")
        self.looking_count = Counter("looking_count")
        self.follower_sync_time = Summary("follower_sync_time")
        self.observer_sync_time = Summary("observer_sync_time")
        self.unavailable_time = Summary("unavailable_time")
        self.leader_unavailable_time = Summary("leader_unavailable_time")
        self.diff_count = Counter("diff_count")
        self.snap_count = Counter("snap_count")
        self.inflight_diff_count = Summary("inflight_diff_count")
        self.inflight_snap_count = Summary("inflight_snap_count")
        self.digest_mismatches_count = Counter("digest_mismatches_count")
        # Broadcast.
        self.proposal_count = Counter("proposal_count")
        self.commit_count = Counter("commit_count")
        self.learner_proposal_received_count = Counter("learner_proposal_received_count")
        self.learner_commit_received_count = Counter("learner_commit_received_count")
        self.quit_leading_due_to_disloyal_voter = Counter("quit_leading_due_to_disloyal_voter")
        self.proposal_latency = Summary("proposal_latency", advanced=True)
        self.proposal_ack_creation_latency = Summary("proposal_ack_creation_latency", advanced=True)
        self.commit_propagation_latency = Summary("commit_propagation_latency", advanced=True)
        self.quorum_ack_latency = Summary("quorum_ack_latency", advanced=True)
        self.ack_latency = SummarySet("ack_latency", advanced=True)
        # Not metrics of their own in ZooKeeper: ServerStats and Leader fields that `srvr`
        # and the size gauges show.
        self.client_response = BufferStats()
        self.proposal_sizes = BufferStats()
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
        return [v for v in vars(self).values() if isinstance(v, (Counter, Summary, SummarySet))]

    def reset(self) -> None:
        """ServerMetrics.resetAll under the default provider (what `srst` does)."""
        for family in self.families():
            family.reset()
        self.client_response.reset()
        self.fsync_threshold_exceed_count = 0

    def dump(self) -> list[tuple[str, object]]:
        """DefaultMetricsProvider.dump after the gauges: counters, then BASIC summaries, then
        ADVANCED ones, then summary sets (avg_<key>_<name>...)."""
        now_s = time.monotonic()
        families = self.families()
        out: list[tuple[str, object]] = [
            (f.name, f.value) for f in families if isinstance(f, Counter)]
        for advanced in (False, True):
            for f in families:
                if isinstance(f, Summary) and f.advanced == advanced:
                    out += f.default_values(f.name, now_s)
        for f in families:
            if isinstance(f, SummarySet):
                for key in sorted(f.by_key):
                    out += f.by_key[key].default_values(f"{key}_{f.name}", now_s)
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
