"""The benchmark's rows: what each one measures, on which topology, and what zkpy should reach.

Theory of operation: every row has a key `topology/name` (standalone/read, ensemble/failover, ...).
`--rows` picks rows by key, by name (both topologies), by topology, or `durability` / `znodes-N`
for the 1M-znode scenario; the default is every standard row of both topologies. Rows that run on
the same servers form a group (same topology, same zoo.cfg): one deployment per side and run
serves the whole group, in catalogue order, the failover last because it kills the leader.

Targets come from the issue: throughput rows zkpy >= 1.00x Apache ZooKeeper, the single
synchronous client's p99 <= Apache's, memory <= Apache's, failover under 200 ms and <= 0.50x.
Rows the issue gives no target (fan-out time; snapshot and restart times) show parity, marked *.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.deploy import TOPOLOGIES
from bench.loadgen import Workload
from bench.report import (
    FAILOVER_TARGET,
    NOT_WORSE_TARGET,
    PARITY_TARGET,
    THROUGHPUT_TARGET,
    Row,
    Target,
)

DURABILITY_DEFAULT = "znodes-1m"


@dataclass(frozen=True)
class RowSpec:
    topology: str
    name: str
    title: str
    kind: str  # "load" (LoadGen, also fan-out) or "failover"
    unit: str
    metric: str
    better: str
    target: Target | None
    workload: Workload | None = None
    scale: float = 1.0
    sessions: int | None = None  # instead of --sessions / --outstanding (the synchronous client)
    outstanding: int | None = None
    config: tuple[tuple[str, str], ...] = ()  # zoo.cfg settings on top of the run's own
    standard: bool = True  # part of the default selection

    @property
    def key(self) -> str:
        return f"{self.topology}/{self.name}"

    def new_row(self) -> Row:
        return Row(self.key, f"{self.topology:<10}  {self.title}", self.unit, self.metric, self.better,
                   self.target, self.scale)


@dataclass
class Selection:
    rows: list[RowSpec] = field(default_factory=list)
    trees: list[str] = field(default_factory=list)  # durability scenarios: znodes-1m, znodes-100k, ...


def throughput(topology: str, name: str, workload: Workload, title: str, unit: str = "ops/s",
               config: tuple[tuple[str, str], ...] = (), standard: bool = True) -> RowSpec:
    return RowSpec(topology, name, title, "load", unit, "ops_per_s", "higher", THROUGHPUT_TARGET, workload,
                   config=config, standard=standard)


def catalogue(topology: str, force_sync: str, watchers: int) -> list[RowSpec]:
    """Every known row of one topology, in the order they run."""
    fsync = "no fsync" if force_sync == "no" else "fsync"
    t = topology
    rows = [
        throughput(t, "read", Workload.parse("read"), "read 100%"),
        throughput(t, "mixed", Workload.parse("mixed"), "read 90% / write 10%"),
        throughput(t, "write", Workload.parse("write"), f"write 100% ({fsync})"),
        throughput(t, "write-nosync", Workload.parse("write"), "write 100% (no fsync)",
                   config=(("forceSync", "no"),), standard=False),
        throughput(t, "churn", Workload.parse("churn"), "ephemeral create+delete", unit="pairs/s"),
        RowSpec(t, "sync-read", "1 client, 1 outstanding: getData", "load", "p99 ms", "p99_us", "lower",
                NOT_WORSE_TARGET, Workload.parse("read"), scale=1e-3, sessions=1, outstanding=1),
        RowSpec(t, "sync-write", "1 client, 1 outstanding: setData", "load", "p99 ms", "p99_us", "lower",
                NOT_WORSE_TARGET, Workload.parse("write"), scale=1e-3, sessions=1, outstanding=1),
        RowSpec(t, "fanout", f"watch fan-out to {watchers:,} sessions", "load", "p50 ms", "p50_us", "lower",
                PARITY_TARGET, Workload.parse("fanout"), scale=1e-3),
    ]
    if topology == "ensemble":
        rows.append(RowSpec(t, "failover", "leader failover (kill -9)", "failover", "ms", "failover_ms",
                            "lower", FAILOVER_TARGET))
    if force_sync == "no":
        rows = [r for r in rows if r.name != "write-nosync"]
    return rows


def custom_mixed(topology: str, text: str) -> RowSpec:
    workload = Workload.parse(text)
    return throughput(topology, workload.slug, workload, workload.label)


def select(terms: list[str], force_sync: str, watchers: int) -> Selection:
    """Rows named by terms (see the module docstring), in catalogue order, each once.

    Raises ValueError for a term that names nothing."""
    known = {t: catalogue(t, force_sync, watchers) for t in TOPOLOGIES}
    chosen: dict[str, RowSpec] = {}
    selection = Selection()
    for raw in terms:
        term = raw.strip().lower()
        if not term:
            continue
        if term in ("all", "default"):
            picked = [r for t in TOPOLOGIES for r in known[t] if r.standard]
        elif term in TOPOLOGIES:
            picked = [r for r in known[term] if r.standard]
        elif term == "durability":
            selection.trees.append(DURABILITY_DEFAULT)
            continue
        elif term.startswith("znodes-"):
            selection.trees.append(term)
            continue
        else:
            topology, _, name = term.rpartition("/")
            topologies = [topology] if topology else list(TOPOLOGIES)
            if any(t not in TOPOLOGIES for t in topologies):
                raise ValueError(f"unknown topology in {raw!r} (standalone, ensemble)")
            if name == "write-fsync":
                name = "write"
            if name.startswith("mixed:"):
                picked = [custom_mixed(t, name) for t in topologies]
            else:
                picked = [r for t in topologies for r in known[t] if r.name == name]
            if not picked:
                names = sorted({r.name for rows in known.values() for r in rows})
                raise ValueError(f"no row {raw!r}; rows are {', '.join(names)}, mixed:PCT, per"
                                 " topology (standalone/NAME, ensemble/NAME), standalone, ensemble,"
                                 " durability, znodes-N")
        for spec in picked:
            chosen.setdefault(spec.key, spec)
    order = {spec.key: i for i, spec in enumerate(r for t in TOPOLOGIES for r in known[t])}
    selection.rows = sorted(chosen.values(), key=lambda s: (TOPOLOGIES.index(s.topology),
                                                            order.get(s.key, len(order))))
    selection.trees = list(dict.fromkeys(selection.trees))
    return selection


def groups(
    specs: list[RowSpec], base_config: dict[str, str]
) -> list[tuple[str, dict[str, str], list[RowSpec]]]:
    """(topology, zoo.cfg settings, rows) in running order; the failover last in its group."""
    found: dict[tuple[str, tuple[tuple[str, str], ...]], list[RowSpec]] = {}
    for spec in specs:
        found.setdefault((spec.topology, spec.config), []).append(spec)
    result = []
    for (topology, overrides), members in found.items():
        members.sort(key=lambda s: s.kind == "failover")
        result.append((topology, {**base_config, **dict(overrides)}, members))
    return result
