"""Render side-by-side benchmark rows as a text table.

A row is one workload under one server configuration, with one result per server: LoadGen's JSON
dict, or {"error": ...} when that side failed. A failed side keeps its place in the table (its
cells say FAILED and the row ends with the first line of the error), so the table always has
every row that was planned. Full error texts follow the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.machine import QUIET_PCT

SIDES = ("apache", "zkpy")
SIDE_TITLES = {"apache": "Apache", "zkpy": "zkpy"}
ERROR_CELL = "FAILED"
SHORT_ERROR_CHARS = 90


@dataclass
class Row:
    label: str
    config: dict[str, str]
    results: dict[str, dict[str, object]] = field(default_factory=dict)

    def ratio(self) -> float | None:
        """zkpy ops/s divided by Apache ops/s; None unless both sides produced a rate."""
        apache = ops_per_s(self.results.get("apache"))
        zkpy = ops_per_s(self.results.get("zkpy"))
        if apache is None or zkpy is None or apache <= 0:
            return None
        return zkpy / apache

    def to_json(self) -> dict[str, object]:
        return {"workload": self.label, "config": self.config, "ratio_zkpy_to_apache": self.ratio(), **self.results}


def ops_per_s(result: dict[str, object] | None) -> float | None:
    if not result or "error" in result:
        return None
    value = result.get("ops_per_s")
    return float(value) if isinstance(value, (int, float)) else None


def error_of(result: dict[str, object] | None) -> str | None:
    if result is None:
        return None
    error = result.get("error")
    return str(error) if error is not None else None


def rate_cell(result: dict[str, object] | None) -> str:
    if result is None:
        return "-"
    rate = ops_per_s(result)
    return ERROR_CELL if rate is None else f"{rate:,.0f}"


def latency_cell(result: dict[str, object] | None) -> str:
    if result is None or "error" in result:
        return "-"
    p50_us, p99_us = result.get("p50_us"), result.get("p99_us")
    if not isinstance(p50_us, (int, float)) or not isinstance(p99_us, (int, float)):
        return "-"
    return f"{milliseconds(p50_us)} / {milliseconds(p99_us)}"


def milliseconds(us: float) -> str:
    """About three significant digits: 0.066, 1.25, 28.5, 317."""
    ms = us / 1000
    decimals = 3 if ms < 1 else 2 if ms < 10 else 1 if ms < 100 else 0
    return f"{ms:.{decimals}f}"


def cpu_cell(result: dict[str, object] | None) -> str:
    if result is None or "error" in result:
        return "-"
    keys = ("server_cpu_pct", "client_cpu_pct", "other_cpu_pct")
    return "/".join(f"{v:.0f}" if isinstance(v := result.get(k), (int, float)) else "?" for k in keys)


def other_cpu_pct(result: dict[str, object] | None) -> float:
    value = (result or {}).get("other_cpu_pct")
    return float(value) if isinstance(value, (int, float)) else 0.0


def short_error(text: str) -> str:
    """The first line, and the last one too when it differs (where a server's traceback ends)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()] or ["error"]
    short = lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"
    return short if len(short) <= SHORT_ERROR_CHARS else short[: SHORT_ERROR_CHARS - 3] + "..."


def format_table(rows: Sequence[Row]) -> str:
    headers = [
        "workload",
        "Apache ops/s",
        "zkpy ops/s",
        "zkpy/Apache",
        "Apache p50/p99 ms",
        "zkpy p50/p99 ms",
        "Apache cpu% srv/cli/other",
        "zkpy cpu% srv/cli/other",
    ]
    body: list[list[str]] = []
    notes: list[str] = []
    errors: dict[tuple[str, str], list[str]] = {}
    busiest_other_pct = 0.0
    for row in rows:
        apache, zkpy = row.results.get("apache"), row.results.get("zkpy")
        ratio = row.ratio()
        body.append(
            [
                row.label,
                rate_cell(apache),
                rate_cell(zkpy),
                "-" if ratio is None else f"{ratio:.2f}x",
                latency_cell(apache),
                latency_cell(zkpy),
                cpu_cell(apache),
                cpu_cell(zkpy),
            ]
        )
        row_notes = []
        for side in SIDES:
            error = error_of(row.results.get(side))
            if error is not None:
                row_notes.append(f"{SIDE_TITLES[side]}: {short_error(error)}")
                errors.setdefault((side, error.rstrip()), []).append(row.label)
            else:
                result = row.results.get(side) or {}
                busiest_other_pct = max(busiest_other_pct, other_cpu_pct(result))
                if result.get("errors"):
                    row_notes.append(f"{SIDE_TITLES[side]}: {result['errors']} failed requests")
        notes.append("; ".join(row_notes))
    widths = [max(len(line[i]) for line in [headers, *body]) for i in range(len(headers))]

    def render(cells: list[str], note: str = "") -> str:
        text = "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width) for i, (cell, width) in enumerate(zip(cells, widths))
        )
        return f"{text}  {note}".rstrip()

    lines = [render(headers), render(["-" * w for w in widths])]
    lines += [render(cells, note) for cells, note in zip(body, notes)]
    lines += ["", "cpu%: share of one core during the measured window (server / load generator / everything else)."]
    if busiest_other_pct >= QUIET_PCT:
        lines.append(
            f"WARNING: other processes used up to {busiest_other_pct:.0f}% of a core while measuring;"
            " the numbers are disturbed. Rerun on a quiet machine (see --quiet-wait)."
        )
    if errors:
        lines += ["", "Errors:"]
        for (side, error), labels in errors.items():
            lines.append(f"[{SIDE_TITLES[side]}: {', '.join(labels)}]\n{error}")
    return "\n".join(lines)


@dataclass
class TreeRow:
    """The durability scenario (see bench/durability.py) on each server: one dict of metrics per side."""

    label: str
    description: str
    config: dict[str, str]
    results: dict[str, dict[str, object]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {"workload": self.label, "description": self.description, "config": self.config,
                **self.results}


@dataclass(frozen=True)
class TreeMetric:
    key: str
    title: str
    better: str  # "lower" or "higher"
    cpu_key: str | None = None  # where the phase's {"server_cpu_pct", "other_cpu_pct"} are
    scale: float = 1.0


TREE_METRICS = (
    TreeMetric("creates_per_s", "load, creates/s", "higher", "populate"),
    TreeMetric("rss_after_load_mib", "RSS after load, MiB", "lower"),
    TreeMetric("hwm_after_snapshot_mib", "peak RSS (VmHWM) through snapshot, MiB", "lower"),
    TreeMetric("snapshot_ms", "snapshot of the full tree, ms", "lower", "snapshot_cpu"),
    TreeMetric("snapshot_bytes", "snapshot file, MiB", "lower", scale=1 / 2**20),
    TreeMetric("restart_s", "restart to full node count, s", "lower", "restart_cpu"),
    TreeMetric("rss_after_restart_mib", "RSS after restart, MiB", "lower"),
)


def tree_value(result: dict[str, object] | None, metric: TreeMetric) -> float | None:
    value = (result or {}).get(metric.key)
    return float(value) * metric.scale if isinstance(value, (int, float)) else None


def number_cell(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def phase_cpu(result: dict[str, object] | None, metric: TreeMetric) -> dict[str, object] | None:
    if result is None or metric.cpu_key is None:
        return None
    cpu = result.get(metric.cpu_key)
    return cpu if isinstance(cpu, dict) and "server_cpu_pct" in cpu else None


def phase_cpu_cell(result: dict[str, object] | None, metric: TreeMetric) -> str:
    cpu = phase_cpu(result, metric)
    if cpu is None:
        return ""
    keys = ("server_cpu_pct", "other_cpu_pct")
    return "/".join(f"{v:.0f}" if isinstance(v := cpu.get(k), (int, float)) else "?" for k in keys)


def format_durability_table(rows: Sequence[TreeRow]) -> str:
    """One line per metric of each scenario: both values, zkpy/Apache, and which way is better."""
    headers = ["durability", "better", "Apache", "zkpy", "zkpy/Apache", "Apache cpu% srv/other",
               "zkpy cpu% srv/other"]
    body: list[list[str]] = []
    lines_before: list[str] = []
    errors: list[str] = []
    busiest_other_pct = 0.0
    for row in rows:
        lines_before.append(f"{row.label}: {row.description}")
        for metric in TREE_METRICS:
            cells = [f"{row.label}: {metric.title}", metric.better]
            values = {}
            for side in SIDES:
                result = row.results.get(side)
                value = tree_value(result, metric)
                values[side] = value
                if result is None:
                    cells.append("-")
                elif value is None:
                    cells.append(ERROR_CELL if "error" in result else "-")
                else:
                    cells.append(number_cell(value))
                cpu = phase_cpu(result, metric)
                if cpu is not None and isinstance(other := cpu.get("other_cpu_pct"), (int, float)):
                    busiest_other_pct = max(busiest_other_pct, float(other))
            apache, zkpy = values["apache"], values["zkpy"]
            cells.append(f"{zkpy / apache:.2f}x" if apache and zkpy is not None else "-")
            cells += [phase_cpu_cell(row.results.get(side), metric) for side in SIDES]
            body.append(cells)
        for side in SIDES:
            error = error_of(row.results.get(side))
            if error is not None:
                errors.append(f"[{SIDE_TITLES[side]}: {row.label}]\n{error.rstrip()}")
    widths = [max(len(line[i]) for line in [headers, *body]) for i in range(len(headers))]

    def render(cells: list[str]) -> str:
        text = "  ".join(
            cell.ljust(width) if i < 2 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths))
        )
        return text.rstrip()

    lines = [*lines_before, "", render(headers), render(["-" * w for w in widths])]
    lines += [render(cells) for cells in body]
    lines += [
        "",
        "better: lower is better for memory, sizes and times, higher for the load rate;"
        " zkpy/Apache above 1.00x is then worse for lower-is-better lines.",
        "cpu%: share of one core during that phase (server / everything else but the load generator).",
    ]
    if busiest_other_pct >= QUIET_PCT:
        lines.append(
            f"WARNING: other processes used up to {busiest_other_pct:.0f}% of a core during a"
            " durability phase; the numbers are disturbed. Rerun on a quiet machine (see --quiet-wait)."
        )
    if errors:
        lines += ["", "Errors:", *errors]
    return "\n".join(lines)
