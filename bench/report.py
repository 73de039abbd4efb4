"""Side-by-side benchmark rows, their medians, ratios and targets, rendered as text tables.

A row is one measurement (a workload on a standalone server or an ensemble, the failover, one
metric of the durability scenario) with, per server side, one result dict per run: LoadGen's JSON
line, the failover's dict, the durability scenario's dict, or {"error": ...} for a failed run.
The row names the key of its headline number (`metric`), which `scale` converts into the row's
unit, and which way is better. Per side the table shows the median over the runs that succeeded;
the ratio is zkpy's median over Apache ZooKeeper's; a target is checked against that ratio as the
table prints it (two decimals), and, for absolute limits, against zkpy's median. A side whose
runs all failed says FAILED and keeps its place, so the table always has every planned row;
full error texts follow the tables.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.machine import QUIET_PCT

SIDES = ("apache", "zkpy")
SIDE_TITLES = {"apache": "Apache", "zkpy": "zkpy"}
ERROR_CELL = "FAILED"
SHORT_ERROR_CHARS = 90
CPU_KEYS = ("server_cpu_pct", "client_cpu_pct", "other_cpu_pct")


@dataclass(frozen=True)
class Target:
    """What zkpy should reach on a row. All given conditions must hold."""

    min_ratio: float | None = None  # zkpy/Apache at least this
    max_ratio: float | None = None  # zkpy/Apache at most this
    below: float | None = None  # zkpy's own value strictly below this, in the row's unit
    assumed: bool = False  # the issue names no target for the row: parity, marked with *

    def describe(self, unit: str) -> str:
        parts = []
        if self.below is not None:
            parts.append(f"< {number_cell(self.below)} {unit}")
        if self.min_ratio is not None:
            parts.append(f">= {self.min_ratio:.2f}x")
        if self.max_ratio is not None:
            parts.append(f"<= {self.max_ratio:.2f}x")
        return " and ".join(parts) + ("*" if self.assumed else "")

    def met(self, apache: float | None, zkpy: float | None) -> bool | None:
        """None when a number it needs is missing."""
        if zkpy is None:
            return None
        met = True
        if self.below is not None:
            met = met and zkpy < self.below
        if self.min_ratio is not None or self.max_ratio is not None:
            ratio = ratio_of(zkpy, apache)
            if ratio is None:
                return None
            shown = round(ratio, 2)  # judged as printed: "1.00x" never reads as missed
            if self.min_ratio is not None:
                met = met and shown >= self.min_ratio
            if self.max_ratio is not None:
                met = met and shown <= self.max_ratio
        return met


THROUGHPUT_TARGET = Target(min_ratio=1.0)
NOT_WORSE_TARGET = Target(max_ratio=1.0)
PARITY_TARGET = Target(max_ratio=1.0, assumed=True)
FAILOVER_TARGET = Target(max_ratio=0.5, below=200.0)


def ratio_of(zkpy: float | None, apache: float | None) -> float | None:
    if zkpy is None or apache is None or apache <= 0:
        return None
    return zkpy / apache


@dataclass
class Row:
    key: str
    title: str
    unit: str
    metric: str
    better: str  # "higher" or "lower"
    target: Target | None = None
    scale: float = 1.0
    cpu_key: str | None = None  # where a result keeps its CPU shares; None: at its top level
    # a failed result still counts for the numbers it holds (the durability scenario keeps what it
    # measured before the phase that failed)
    partial_ok: bool = False
    runs: dict[str, list[dict[str, object]]] = field(default_factory=dict)

    def add(self, side: str, result: dict[str, object]) -> None:
        self.runs.setdefault(side, []).append(result)

    def ok_runs(self, side: str) -> list[dict[str, object]]:
        return [r for r in self.runs.get(side, []) if self.partial_ok or "error" not in r]

    def values(self, side: str) -> list[float]:
        """The headline number of every successful run, in the row's unit."""
        return [v * self.scale for r in self.ok_runs(side) if (v := number(r.get(self.metric))) is not None]

    def value(self, side: str) -> float | None:
        values = self.values(side)
        return statistics.median(values) if values else None

    def median_of(self, side: str, key: str, within: str | None = None) -> float | None:
        found = []
        for result in self.ok_runs(side):
            holder = result.get(within) if within else result
            if isinstance(holder, dict) and (v := number(holder.get(key))) is not None:
                found.append(v)
        return statistics.median(found) if found else None

    def ratio(self) -> float | None:
        return ratio_of(self.value("zkpy"), self.value("apache"))

    def met(self) -> bool | None:
        return None if self.target is None else self.target.met(self.value("apache"), self.value("zkpy"))

    def errors(self, side: str) -> list[str]:
        return [str(r["error"]) for r in self.runs.get(side, []) if "error" in r]

    def to_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "title": self.title,
            "unit": self.unit,
            "metric": self.metric,
            "better": self.better,
            "target": None if self.target is None else self.target.describe(self.unit),
            "median": {side: self.value(side) for side in self.runs},
            "ratio_zkpy_to_apache": self.ratio(),
            "met": self.met(),
            "runs": self.runs,
        }


def number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def number_cell(value: float) -> str:
    """About three significant digits, thousands separated: 19,952 / 28.5 / 0.43."""
    magnitude = abs(value)
    return f"{value:,.0f}" if magnitude >= 100 else f"{value:.1f}" if magnitude >= 10 else f"{value:.2f}"


def milliseconds(us: float) -> str:
    return number_cell(us / 1000)


def value_cell(row: Row, side: str) -> str:
    if side not in row.runs:
        return "-"
    value = row.value(side)
    return ERROR_CELL if value is None else number_cell(value)


def ratio_cell(row: Row) -> str:
    ratio = row.ratio()
    return "-" if ratio is None else f"{ratio:.2f}x"


def met_cell(row: Row) -> str:
    met = row.met()
    return "-" if met is None else "yes" if met else "NO"


def latency_cell(row: Row, side: str) -> str:
    p50_us, p99_us = row.median_of(side, "p50_us"), row.median_of(side, "p99_us")
    if p50_us is None or p99_us is None:
        return "-"
    return f"{milliseconds(p50_us)} / {milliseconds(p99_us)}"


def cpu_cell(row: Row, side: str) -> str:
    shares = [row.median_of(side, key, row.cpu_key) for key in CPU_KEYS]
    if all(s is None for s in shares):
        return "-"
    return "/".join("-" if s is None else f"{s:.0f}" for s in shares)


def runs_cell(row: Row, side: str) -> str:
    cells = []
    for result in row.runs.get(side, []):
        value = number(result.get(row.metric))
        counted = value is not None and result in row.ok_runs(side)
        cells.append(number_cell(value * row.scale) if counted and value is not None else "x")
    return " ".join(cells) or "-"


def short_error(text: str) -> str:
    """The first line, and the last one too when it differs (where a server's traceback ends)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()] or ["error"]
    short = lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"
    return short if len(short) <= SHORT_ERROR_CHARS else short[: SHORT_ERROR_CHARS - 3] + "..."


def row_note(row: Row) -> str:
    notes = []
    for side in SIDES:
        errors = row.errors(side)
        if row.partial_ok and row.value(side) is not None:
            continue
        if not errors:
            failed = sum(number(r.get("errors")) or 0 for r in row.ok_runs(side))
            if failed:
                notes.append(f"{SIDE_TITLES[side]}: {failed:.0f} failed requests")
            continue
        total = len(row.runs.get(side, []))
        share = "" if len(errors) == total else f" ({len(errors)} of {total} runs)"
        notes.append(f"{SIDE_TITLES[side]}{share}: {short_error(errors[0])}")
    return "; ".join(notes)


def render(
    headers: list[str], body: list[list[str]], left_columns: int, notes: Sequence[str] = ()
) -> list[str]:
    widths = [max(len(line[i]) for line in [headers, *body]) for i in range(len(headers))]

    def line(cells: list[str], note: str = "") -> str:
        text = "  ".join(
            cell.ljust(width) if i < left_columns else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths))
        )
        return f"{text}  {note}".rstrip()

    padded_notes = list(notes) + [""] * (len(body) - len(notes))
    return [line(headers), line(["-" * w for w in widths])] + [line(c, n) for c, n in zip(body, padded_notes)]


def busiest_other_pct(rows: Sequence[Row]) -> float:
    busiest = 0.0
    for row in rows:
        for side in SIDES:
            other = row.median_of(side, "other_cpu_pct", row.cpu_key)
            busiest = max(busiest, other or 0.0)
    return busiest


def format_summary(rows: Sequence[Row]) -> str:
    """Headline number per side, ratio, target and whether zkpy meets it."""
    headers = ["row", "unit", "better", "Apache", "zkpy", "zkpy/Apache", "target", "met?"]
    body = [
        [row.title, row.unit, row.better, value_cell(row, "apache"), value_cell(row, "zkpy"), ratio_cell(row),
         "-" if row.target is None else row.target.describe(row.unit), met_cell(row)]
        for row in rows
    ]
    return "\n".join(render(headers, body, left_columns=3, notes=[row_note(row) for row in rows]))


def format_details(rows: Sequence[Row]) -> str:
    """Latencies, CPU shares and every run's headline number."""
    headers = ["row", "Apache p50/p99 ms", "zkpy p50/p99 ms", "Apache cpu% srv/cli/other",
               "zkpy cpu% srv/cli/other", "Apache runs", "zkpy runs"]
    body = [
        [row.title, latency_cell(row, "apache"), latency_cell(row, "zkpy"), cpu_cell(row, "apache"),
         cpu_cell(row, "zkpy"), runs_cell(row, "apache"), runs_cell(row, "zkpy")]
        for row in rows
    ]
    return "\n".join(render(headers, body, left_columns=1))


def format_report(rows: Sequence[Row], preamble: Sequence[str] = ()) -> str:
    lines = [*preamble, "", format_summary(rows), "", format_details(rows), "", *LEGEND]
    busiest = busiest_other_pct(rows)
    if busiest >= QUIET_PCT:
        lines.append(
            f"WARNING: other processes used up to {busiest:.0f}% of a core while measuring (median of a row's"
            " runs); the numbers are disturbed. Rerun on a quiet machine (see --quiet-wait)."
        )
    where: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        for side in SIDES:
            for n, result in enumerate(row.runs.get(side, []), start=1):
                if "error" in result:
                    error = str(result["error"]).rstrip()
                    where.setdefault((side, error), []).append(f"{row.title} (run {n})")
    if where:
        lines += ["", "Errors:"]
        lines += [f"[{SIDE_TITLES[side]}: {', '.join(titles)}]\n{error}"
                  for (side, error), titles in where.items()]
    return "\n".join(lines).lstrip("\n")


LEGEND = (
    "Apache, zkpy: median over the runs that succeeded; zkpy/Apache: ratio of the medians (above 1.00x"
    " zkpy is higher: better for 'higher' rows, worse for 'lower' rows).",
    "target: what zkpy should reach; * marks parity shown where the issue sets no target."
    " met?: judged on the medians as printed.",
    "p50/p99 ms: latency percentiles of the row's requests (fan-out rows: of the rounds' fan-out times),"
    " median over runs.",
    "cpu%: share of one core while measuring (server or all ensemble members / load generator / everything"
    " else), median over runs; runs: each run's headline number in the row's unit, x = failed.",
)


# ---------------------------------------------------------------- durability scenario


@dataclass(frozen=True)
class TreeMetric:
    key: str
    title: str
    unit: str
    better: str
    target: Target | None
    cpu_key: str | None = None
    scale: float = 1.0


TREE_METRICS = (
    TreeMetric("creates_per_s", "load", "creates/s", "higher", THROUGHPUT_TARGET, "populate"),
    TreeMetric("rss_after_load_mib", "RSS after load", "MiB", "lower", NOT_WORSE_TARGET),
    TreeMetric("hwm_after_snapshot_mib", "peak RSS through snapshot", "MiB", "lower", NOT_WORSE_TARGET),
    TreeMetric("snapshot_ms", "snapshot of the full tree", "ms", "lower", PARITY_TARGET, "snapshot_cpu"),
    TreeMetric("snapshot_bytes", "snapshot file", "MiB", "lower", None, scale=1 / 2**20),
    TreeMetric("restart_s", "restart to full node count", "s", "lower", PARITY_TARGET, "restart_cpu"),
    TreeMetric("rss_after_restart_mib", "RSS after restart", "MiB", "lower", NOT_WORSE_TARGET),
)


def durability_rows(label: str, results: dict[str, dict[str, object]]) -> list[Row]:
    """One row per metric of the scenario; each side's single result feeds all of them."""
    rows = []
    for metric in TREE_METRICS:
        row = Row(f"{label}/{metric.key}", f"{label}: {metric.title}", metric.unit, metric.key, metric.better,
                  metric.target, metric.scale, metric.cpu_key, partial_ok=True)
        for side, result in results.items():
            row.add(side, result)
        rows.append(row)
    return rows
