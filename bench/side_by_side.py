"""Side-by-side benchmark: the same load against Apache ZooKeeper and zkpy, reported as ratios.

Theory of operation: the selected rows (bench/rows.py) form groups that share a topology and a
zoo.cfg. For a group, each side gets its deployment (bench/deploy.py: one standalone server or a
3-server ensemble on loopback, in a fresh temporary directory, with the identical settings),
warmed up with a few seconds of unmeasured load. Then every row is measured `--runs` times,
alternating the sides (Apache, zkpy, then zkpy, Apache, ...): only one side is under load at a
time, the other's servers sit idle, and the two measurements of a row are seconds apart, so a
burst of other work on the machine hits both sides alike. A row run is one LoadGen run
(bench/java: the stock Java client's async API, the watch fan-out included). The leader failover
(bench/failover.py) kills a leader, so each of its runs gets fresh ensembles. A side that fails
(does not start, dies, the generator reports an error) records the error for that run; a dead
deployment is started afresh for the next row, and the plan carries on.

The durability scenario (`znodes-1m`, by --durability or in --rows) runs once after the groups,
on a fresh standalone server per side (bench/durability.py). The table (bench/report.py) shows
per row the median of each side's runs, the ratio, the target and whether zkpy meets it.

Results (every run's numbers, the configuration, the host) go to bench/results/<stamp>/results.json,
next to the LoadGen and server logs of the run; bench/results/latest points to the newest run.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.deploy import SERVER_CLASSES, Deployment, EnsembleDeployment, Keeper
from bench.durability import TreeScenario, TreeWorkload
from bench.failover import measure_failover
from bench.loadgen import LoadSettings, Workload, ensure_compiled, java_version, run_loadgen
from bench.machine import QUIET_PCT, wait_until_quiet
from bench.report import SIDE_TITLES, SIDES, Row, durability_rows, format_report, number_cell
from bench.rows import RowSpec, groups, select
from tests.support.servers import ApacheZkServer, four_letter_word

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
START_TIMEOUT_S = 120.0
DEFAULTS = {"seconds": 4, "warmup": 1, "group_warmup": 5, "watchers": 1000, "fanout_rounds": 10,
            "fanout_warmup_rounds": 2}
QUICK = {"runs": 1, "seconds": 2, "warmup": 1, "group_warmup": 2, "watchers": 200, "fanout_rounds": 5,
         "fanout_warmup_rounds": 1}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run",
        description="Run the same load against Apache ZooKeeper and zkpy (standalone and 3-server ensemble)"
        " and compare. See bench/README.md.",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per row and side; the table shows medians")
    quick = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in QUICK.items())
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run of every row in about 3 minutes: {quick} (explicit options win)")
    parser.add_argument("--seconds", type=int, default=None,
                        help=f"measured seconds per load row and run ({DEFAULTS['seconds']})")
    parser.add_argument("--warmup", type=int, default=None,
                        help=f"unmeasured seconds before each measurement ({DEFAULTS['warmup']})")
    parser.add_argument("--group-warmup", type=int, default=None,
                        help="seconds of unmeasured mixed load on every freshly started server or ensemble"
                        f" ({DEFAULTS['group_warmup']})")
    parser.add_argument("--servers", default="apache,zkpy", help="comma-separated: apache, zkpy")
    parser.add_argument(
        "--rows", "--workloads", dest="rows", default="all",
        help="comma-separated: all, standalone, ensemble, a row name for both topologies (read, mixed, write,"
        " write-nosync, churn, sync-read, sync-write, fanout, failover, mixed:PCT), TOPOLOGY/NAME,"
        " durability, znodes-N (default: all)",
    )
    parser.add_argument("--durability", action="store_true",
                        help="add the durability scenario znodes-1m (1M znodes: load, memory, snapshot,"
                        " restart; 15-30 min, runs once)")
    parser.add_argument("--nosync-variant", action="store_true",
                        help="add standalone/write-nosync: the write row again with forceSync=no for both")
    parser.add_argument("--tree-fanout", type=int, default=1000, help="znodes-N: children per parent")
    parser.add_argument("--tree-value-size", type=int, default=64, help="znodes-N: value size in bytes")
    parser.add_argument("--sessions", type=int, default=8, help="client sessions of the throughput rows")
    parser.add_argument("--outstanding", type=int, default=100, help="async requests in flight per session")
    parser.add_argument("--value-size", type=int, default=1024, help="znode value size in bytes")
    parser.add_argument("--znodes", type=int, default=1000, help="znodes read and written at random")
    parser.add_argument("--watchers", type=int, default=None,
                        help=f"fan-out: sessions watching the znode ({DEFAULTS['watchers']})")
    parser.add_argument("--fanout-rounds", type=int, default=None,
                        help=f"fan-out: measured rounds per run ({DEFAULTS['fanout_rounds']})")
    parser.add_argument("--fanout-warmup-rounds", type=int, default=None,
                        help=f"fan-out: unmeasured rounds first ({DEFAULTS['fanout_warmup_rounds']})")
    parser.add_argument("--force-sync", choices=("yes", "no"), default="yes",
                        help="forceSync for both servers")
    parser.add_argument("--quiet-wait", type=float, default=0.0, metavar="SECONDS",
                        help="before each row wait up to SECONDS for other work to drop below"
                        f" {QUIET_PCT:.0f}%% of a core")
    parser.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                        help="extra zoo.cfg setting given to every server of both sides (repeatable)")
    args = parser.parse_args(argv)

    explicit_runs = any(a == "--runs" or a.startswith("--runs=") for a in argv)
    for key, value in DEFAULTS.items():
        if getattr(args, key, None) is None:
            setattr(args, key, QUICK[key] if args.quick else value)
    if args.quick and not explicit_runs:
        args.runs = QUICK["runs"]

    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if not servers or set(servers) - set(SERVER_CLASSES):
        parser.error(f"--servers takes apache and/or zkpy, not {args.servers!r}")
    args.servers = [s for s in SIDES if s in servers]
    terms = args.rows.split(",")
    if args.durability:
        terms.append("durability")
    if args.nosync_variant:
        terms.append("standalone/write-nosync")
    try:
        args.selection = select(terms, args.force_sync, args.watchers)
        args.trees = [TreeWorkload(t.znodes, args.tree_fanout, args.tree_value_size)
                      for t in (TreeWorkload.parse(name) for name in args.selection.trees) if t is not None]
    except ValueError as e:
        parser.error(str(e))
    if not args.selection.rows and not args.trees:
        parser.error("--rows selects nothing")
    extra: dict[str, str] = {}
    for item in args.config:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            parser.error(f"--config takes KEY=VALUE, not {item!r}")
        extra[key.strip()] = value.strip()
    args.extra_config = extra
    if min(args.runs, args.seconds, args.watchers, args.fanout_rounds) < 1:
        parser.error("--runs, --seconds, --watchers and --fanout-rounds must be >= 1")
    if min(args.warmup, args.group_warmup, args.fanout_warmup_rounds) < 0:
        parser.error("--warmup, --group-warmup and --fanout-warmup-rounds must be >= 0")
    if args.tree_fanout < 1 or args.tree_value_size < 0:
        parser.error("--tree-fanout must be >= 1 and --tree-value-size >= 0")
    return args


def base_config(args: argparse.Namespace) -> dict[str, str]:
    """zoo.cfg settings of every server of both sides. maxClientCnxns=0 (no per-IP limit): all
    sessions come from 127.0.0.1, and the fan-out row opens 1,000 of them."""
    return {"forceSync": args.force_sync, "maxClientCnxns": "0", **args.extra_config}


def run_group(
    topology: str,
    config: dict[str, str],
    specs: list[RowSpec],
    rows: dict[str, Row],
    args: argparse.Namespace,
    settings: LoadSettings,
    run_dir: Path,
) -> dict[str, list[dict[str, object]]]:
    """Every run of every row of one group. Returns facts about every start, per side."""
    variant = "".join(f"-{k}{v}" for k, v in config.items() if base_config(args).get(k) != v)
    starts: dict[str, list[dict[str, object]]] = {side: [] for side in args.servers}
    load_specs = [spec for spec in specs if spec.kind != "failover"]
    if load_specs:
        run_load_rows(f"{topology}{variant}", topology, config, load_specs, rows, args, settings,
                      run_dir, starts)
    for spec in specs:
        if spec.kind == "failover":
            run_failover_row(spec, config, rows, args, settings, run_dir, starts)
    return starts


def run_load_rows(
    name: str,
    topology: str,
    config: dict[str, str],
    specs: list[RowSpec],
    rows: dict[str, Row],
    args: argparse.Namespace,
    settings: LoadSettings,
    run_dir: Path,
    starts: dict[str, list[dict[str, object]]],
) -> None:
    """Each side's deployment stays up while every row runs --runs times, the sides alternating."""

    def keeper(side: str) -> Keeper:
        warm_log = run_dir / f"loadgen-{side}-{name}-warmup.log"
        return Keeper(
            side, topology, config, run_dir / f"server-{side}-{name}", START_TIMEOUT_S,
            warm_up=lambda d: warm_up(d, side, settings, args.group_warmup, warm_log),
            say=lambda message: progress(f"{SIDE_TITLES[side]}: {name}: {message}"),
        )

    keepers = {side: keeper(side) for side in args.servers}
    try:
        for spec in specs:
            for run in range(1, args.runs + 1):
                for side in side_order(args.servers, run):
                    if args.quiet_wait > 0:
                        await_quiet_machine(args.quiet_wait)
                    try:
                        deployment = keepers[side].get()
                    except Exception as e:  # a side that cannot start must not end the run
                        result: dict[str, object] = {"error": f"{topology} did not start: {e}"}
                    else:
                        log_path = run_dir / f"loadgen-{side}-{name}-{spec.name}-run{run}.log"
                        result = measure(deployment, spec, settings, log_path)
                    rows[spec.key].add(side, result)
                    report_progress(side, rows[spec.key], result, run, args.runs)
    finally:
        for side, kept in keepers.items():
            kept.close()
            starts[side] += kept.starts


def run_failover_row(
    spec: RowSpec,
    config: dict[str, str],
    rows: dict[str, Row],
    args: argparse.Namespace,
    settings: LoadSettings,
    run_dir: Path,
    starts: dict[str, list[dict[str, object]]],
) -> None:
    """The failover kills a leader: every run of every side on a fresh ensemble."""
    for run in range(1, args.runs + 1):
        for side in side_order(args.servers, run):
            if args.quiet_wait > 0:
                await_quiet_machine(args.quiet_wait)
            keeper = Keeper(
                side, spec.topology, config, run_dir / f"server-{side}-{spec.name}-run{run}",
                START_TIMEOUT_S, warm_up=lambda d: None,
                say=lambda message: progress(f"{SIDE_TITLES[side]}: {spec.key}: {message}"),
            )
            try:
                result = measure(keeper.get(), spec, settings, None)
            except Exception as e:  # a side that cannot start must not end the run
                result = {"error": f"{spec.topology} did not start: {e}"}
            finally:
                keeper.close()
                starts[side] += keeper.starts
            rows[spec.key].add(side, result)
            report_progress(side, rows[spec.key], result, run, args.runs)


def side_order(sides: list[str], run: int) -> list[str]:
    """Odd runs in the given order, even runs reversed: neither side always measures first."""
    return sides if run % 2 == 1 else list(reversed(sides))


def warm_up(deployment: Deployment, side: str, settings: LoadSettings, seconds: int, log_path: Path) -> None:
    """Unmeasured mixed load on a freshly started deployment; its result is only logged."""
    if seconds <= 0:
        return
    warm = dataclasses.replace(settings, warmup_s=max(seconds - 1, 0), seconds=1)
    result = run_loadgen(deployment.connect_string, Workload.parse("mixed"), warm, deployment.pids(),
                         log_path)
    if "error" in result:
        progress(f"{SIDE_TITLES[side]}: warm-up failed: {first_line(str(result['error']))}")


def measure(
    deployment: Deployment, spec: RowSpec, settings: LoadSettings, log_path: Path | None
) -> dict[str, object]:
    """One run of a row on a started deployment; log_path is for LoadGen's stderr (load rows)."""
    dead = deployment.dead()
    if dead is not None:
        return {"error": f"server is not running any more: {dead}"}
    if spec.kind == "failover":
        assert isinstance(deployment, EnsembleDeployment)
        try:
            return measure_failover(deployment)
        except Exception as e:  # a broken ensemble is a result of this row, not the end of the run
            return {"error": f"failover: {type(e).__name__}: {e}"}
    assert spec.workload is not None and log_path is not None
    row_settings = dataclasses.replace(
        settings,
        sessions=spec.sessions or settings.sessions,
        outstanding=spec.outstanding or settings.outstanding,
    )
    result = run_loadgen(deployment.connect_string, spec.workload, row_settings, deployment.pids(), log_path)
    dead = deployment.dead()
    if dead is not None:
        died = f"a server exited during the run: {dead}"
        result = {**result, "error": f"{result['error']}\n{died}" if "error" in result else died}
    return result


def run_tree(
    side: str,
    config: dict[str, str],
    tree: TreeWorkload,
    settings: LoadSettings,
    run_dir: Path,
    quiet_wait_s: float,
) -> tuple[dict[str, object], dict[str, object]]:
    """The durability scenario on a fresh server of one side. Returns (result, facts about the server)."""
    title = SIDE_TITLES[side]
    with tempfile.TemporaryDirectory(prefix=f"zkpy-bench-{side}-{tree.label}-") as workdir:
        server = SERVER_CLASSES[side](Path(workdir), extra_config=dict(config))
        facts: dict[str, object] = {"topology": tree.label, "config": server.config_lines(),
                                    "command": server.command()}
        try:
            progress(f"{title}: {tree.label}: starting ({', '.join(f'{k}={v}' for k, v in config.items())})")
            try:
                server.start(timeout_s=START_TIMEOUT_S)
            except Exception as e:  # a side that cannot start must not end the run
                progress(f"{title}: did not start: {first_line(str(e))}")
                return {"error": f"server did not start: {e}"}, facts
            facts["version"] = server_version(server.port)
            scenario = TreeScenario(
                side,
                server,
                tree,
                settings,
                run_dir / f"loadgen-{side}-{tree.label}",
                before_phase=lambda: await_quiet_machine(quiet_wait_s) if quiet_wait_s > 0 else None,
                say=lambda message: progress(f"{title}: {tree.label}: {message}"),
            )
            result = scenario.run()
            if "error" in result:
                progress(f"{title}: {tree.label}: FAILED: {first_line(str(result['error']))}")
            return result, facts
        finally:
            server.stop()
            if server.log_path.exists():
                shutil.copyfile(server.log_path, run_dir / f"server-{side}-{tree.label}.log")


def tree_description(tree: TreeWorkload, config: dict[str, str]) -> str:
    parents = -(-tree.znodes // tree.fanout)
    apache_command = ApacheZkServer(Path("/nonexistent")).command()
    heap = " ".join(a for a in apache_command if a.startswith("-Xm")) or "default heap"
    return (
        f"{tree.label}: {tree.znodes:,} znodes under {parents:,} parents,"
        f" {tree.value_size_bytes}-byte values,"
        f" standalone, runs once; Apache ZooKeeper JVM {heap}"
    )


def plan_description(
    args: argparse.Namespace, settings: LoadSettings, config: dict[str, str]
) -> list[str]:
    """The lines above the table: what ran, with which settings."""
    sides = " and ".join(SIDE_TITLES[s] for s in args.servers)
    settings_text = ", ".join(f"{k}={v}" for k, v in config.items())
    lines = [f"{sides}; zoo.cfg of both: {settings_text}"]
    if args.selection.rows:
        lines += [
            f"{args.runs} run(s) per row, sides alternating, each side's servers started once per group"
            f" and warmed up with {args.group_warmup} s of load",
            f"load rows: {settings.sessions} sessions x {settings.outstanding} async requests in flight,"
            f" {settings.value_size_bytes}-byte values on {settings.znodes:,} znodes,"
            f" {settings.seconds} s measured after {settings.warmup_s} s; '1 client' rows: 1 session x 1"
            f" request; churn: create+delete pairs; fan-out: {settings.watchers:,} sessions,"
            f" {settings.fanout_rounds} rounds per run",
            "ensemble: 3 servers on loopback, sessions spread over all members (followers first);"
            " failover: fresh ensemble per run, kill -9 of the leader to the next acknowledged create",
        ]
    return lines + [tree_description(tree, config) for tree in args.trees]


def await_quiet_machine(max_wait_s: float) -> None:
    busy_pct = wait_until_quiet(QUIET_PCT, max_wait_s)
    if busy_pct >= QUIET_PCT:
        progress(f"machine still busy ({busy_pct:.0f}% of a core) after {max_wait_s:.0f} s; measuring anyway")


def server_version(port: int) -> str:
    try:
        reply = four_letter_word(port, "srvr", timeout_s=5.0)
    except OSError as e:
        return f"unknown ({e})"
    return first_line(reply).removeprefix("Zookeeper version: ")


def first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0] if stripped else ""


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def report_progress(side: str, row: Row, result: dict[str, object], run: int, runs: int) -> None:
    title = f"{SIDE_TITLES[side]}: {row.key}" + (f" run {run}/{runs}" if runs > 1 else "")
    if "error" in result:
        progress(f"{title}: FAILED: {first_line(str(result['error']))}")
        return
    value = result.get(row.metric)
    text = f"{number_cell(float(value) * row.scale)} {row.unit}" if isinstance(value, (int, float)) else "?"
    if isinstance(result.get("p50_us"), (int, float)) and isinstance(result.get("p99_us"), (int, float)):
        text += f" (p50 {result['p50_us']} us, p99 {result['p99_us']} us)"
    progress(f"{title}: {text}")


def host_facts() -> dict[str, object]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
            "python": platform.python_version(), "java": java_version()}


def new_run_dir() -> Path:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    run_dir = RESULTS_DIR / stamp
    run_dir.mkdir(parents=True, exist_ok=False)
    latest = RESULTS_DIR / "latest"
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    latest.symlink_to(stamp)
    return run_dir


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    settings = LoadSettings(
        seconds=args.seconds,
        warmup_s=args.warmup,
        sessions=args.sessions,
        outstanding=args.outstanding,
        value_size_bytes=args.value_size,
        znodes=args.znodes,
        watchers=args.watchers,
        fanout_rounds=args.fanout_rounds,
        fanout_warmup_rounds=args.fanout_warmup_rounds,
    )
    ensure_compiled()
    run_dir = new_run_dir()
    config = base_config(args)
    plan = groups(args.selection.rows, config)
    rows = {spec.key: spec.new_row() for spec in args.selection.rows}
    started = dt.datetime.now(dt.timezone.utc)
    servers: dict[str, list[dict[str, object]]] = {side: [] for side in args.servers}
    for topology, group_config, specs in plan:
        for side, starts in run_group(topology, group_config, specs, rows, args, settings, run_dir).items():
            servers[side] += starts
    all_rows = [rows[spec.key] for _, _, specs in plan for spec in specs]
    for tree in args.trees:
        results = {}
        for side in args.servers:
            results[side], facts = run_tree(side, config, tree, settings, run_dir, args.quiet_wait)
            servers[side].append(facts)
        all_rows += durability_rows(tree.label, results)
    table = format_report(all_rows, plan_description(args, settings, config))
    document = {
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "arguments": argv,
        "settings": dataclasses.asdict(settings),
        "runs": args.runs,
        "config": config,
        "servers": servers,
        "host": host_facts(),
        "rows": [row.to_json() for row in all_rows],
        "table": table,
    }
    results_path = run_dir / "results.json"
    results_path.write_text(json.dumps(document, indent=2) + "\n")
    print()
    print(table)
    print()
    print(f"results: {results_path.relative_to(BENCH_DIR.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
