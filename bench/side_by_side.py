"""Side-by-side benchmark: the same load against Apache ZooKeeper and zkpy, reported as ratios.

Theory of operation: the run is planned as rows (one workload under one server configuration).
Rows that share a configuration form a group; for each group each selected server is started in
turn (Apache ZooKeeper first, then zkpy, never both at once), with the identical zoo.cfg
settings, on a free loopback port in a fresh temporary directory. Every row of the group is then
measured by one LoadGen run (bench/java/LoadGen.java, the stock Java client) and the server is
stopped. A side that fails (does not start, dies, or the generator reports an error) records
the error in its cell and the run continues, so the table is always complete.

Write rows come twice: with forceSync as given (default yes, for both servers; labelled "(fsync)")
and, as a variant, with forceSync=no for both ("(no fsync)"), which separates the servers' own
write paths from the disk's fsync.

The durability scenario (`znodes-1m`, added by --durability or by naming it in --workloads) runs
after the throughput rows, on a fresh server per side: it loads a large tree and reports memory,
snapshot time and restart time (bench/durability.py), in a second table.

Results (every number, the configuration, the host) go to bench/results/<stamp>/results.json,
next to the LoadGen and server logs of the run; bench/results/latest points to the newest run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from bench.durability import TreeScenario, TreeWorkload
from bench.loadgen import LoadSettings, Workload, ensure_compiled, java_version, run_loadgen
from bench.machine import QUIET_PCT, wait_until_quiet
from bench.report import SIDE_TITLES, SIDES, Row, TreeRow, format_durability_table, format_table, ops_per_s
from tests.support.servers import ApacheZkServer, ServerProcess, ZkpyServer, four_letter_word

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
SERVER_CLASSES: dict[str, type[ServerProcess]] = {"apache": ApacheZkServer, "zkpy": ZkpyServer}
SERVER_START_TIMEOUT_S = 60.0
DURABILITY_WORKLOAD = "znodes-1m"
# the write workload under its row name in the durability issue; it runs at --force-sync (yes)
WRITE_ALIASES = {"write-fsync": "write"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run",
        description="Run the same load against Apache ZooKeeper and zkpy (standalone) and compare.",
    )
    parser.add_argument("--seconds", type=int, default=10, help="measured seconds per workload and server")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds before each measurement")
    parser.add_argument("--servers", default="apache,zkpy", help="comma-separated: apache, zkpy")
    parser.add_argument(
        "--workloads",
        default="read,write",
        help="comma-separated: read, write (alias write-fsync), mixed, mixed:PCT (PCT %% reads),"
        " znodes-N (the durability scenario with N znodes, e.g. znodes-1m, znodes-200k)",
    )
    parser.add_argument(
        "--durability",
        action="store_true",
        help=f"add the durability scenario {DURABILITY_WORKLOAD}"
        " (1M znodes: load, memory, snapshot, restart; 15-30 min)",
    )
    parser.add_argument("--tree-fanout", type=int, default=1000, help="znodes-N: children per parent")
    parser.add_argument("--tree-value-size", type=int, default=64, help="znodes-N: value size in bytes")
    parser.add_argument("--sessions", type=int, default=8, help="client sessions")
    parser.add_argument("--outstanding", type=int, default=100, help="async requests in flight per session")
    parser.add_argument("--value-size", type=int, default=1024, help="znode value size in bytes")
    parser.add_argument("--znodes", type=int, default=1000, help="znodes read and written at random")
    parser.add_argument("--force-sync", choices=("yes", "no"), default="yes", help="forceSync for both servers")
    parser.add_argument(
        "--no-nosync-variant",
        dest="nosync_variant",
        action="store_false",
        help="skip the extra forceSync=no row for workloads that write",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help=f"before each row wait up to SECONDS for other work to drop below {QUIET_PCT:.0f}%% of a core",
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra zoo.cfg setting given to both servers (repeatable)",
    )
    args = parser.parse_args(argv)
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = sorted(set(servers) - set(SERVER_CLASSES))
    if unknown or not servers:
        parser.error(f"--servers takes apache and/or zkpy, not {args.servers!r}")
    args.servers = [s for s in SIDES if s in servers]
    names = [w.strip() for w in args.workloads.split(",") if w.strip()]
    if args.durability and DURABILITY_WORKLOAD not in names:
        names.append(DURABILITY_WORKLOAD)
    args.workloads, args.trees = [], []
    try:
        for name in names:
            tree = TreeWorkload.parse(name)
            if tree is not None:
                if args.tree_fanout < 1 or args.tree_value_size < 0:
                    parser.error("--tree-fanout must be >= 1 and --tree-value-size >= 0")
                args.trees.append(TreeWorkload(tree.znodes, args.tree_fanout, args.tree_value_size))
            else:
                args.workloads.append(Workload.parse(WRITE_ALIASES.get(name, name)))
    except ValueError as e:
        parser.error(str(e))
    if not args.workloads and not args.trees:
        parser.error("--workloads is empty")
    extra: dict[str, str] = {}
    for item in args.config:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            parser.error(f"--config takes KEY=VALUE, not {item!r}")
        extra[key.strip()] = value.strip()
    args.extra_config = extra
    if args.seconds < 1 or args.warmup < 0:
        parser.error("--seconds must be >= 1 and --warmup >= 0")
    return args


Plan = list[tuple[Row, Workload]]


def plan_groups(args: argparse.Namespace) -> list[tuple[dict[str, str], Plan]]:
    """Rows with their workloads, grouped by server configuration, in the order they will run."""
    base = base_config(args)
    groups = []
    if args.workloads:
        groups.append((base, [(Row(row_label(w, base), base), w) for w in args.workloads]))
    if args.nosync_variant and base["forceSync"] != "no":
        nosync = {**base, "forceSync": "no"}
        plan = [(Row(row_label(w, nosync), nosync), w) for w in args.workloads if w.writes]
        if plan:
            groups.append((nosync, plan))
    return groups


def base_config(args: argparse.Namespace) -> dict[str, str]:
    return {"forceSync": args.force_sync, **args.extra_config}


def row_label(workload: Workload, config: dict[str, str]) -> str:
    """Writing workloads say whether their txns were fsynced: "write (fsync)", "write (no fsync)"."""
    if not workload.writes:
        return workload.label
    return f"{workload.label} ({'no fsync' if config.get('forceSync') == 'no' else 'fsync'})"


def run_group(
    side: str,
    config: dict[str, str],
    plan: Plan,
    settings: LoadSettings,
    run_dir: Path,
    quiet_wait_s: float,
) -> dict[str, object]:
    """Start one server with config, measure every row on it, stop it. Returns facts about the server."""
    title = SIDE_TITLES[side]
    variant = "nosync" if config.get("forceSync") == "no" else "base"
    with tempfile.TemporaryDirectory(prefix=f"zkpy-bench-{side}-") as workdir:
        server = SERVER_CLASSES[side](Path(workdir), extra_config=dict(config))
        facts: dict[str, object] = {"config": server.config_lines()}
        try:
            progress(f"{title}: starting ({', '.join(f'{k}={v}' for k, v in config.items())})")
            started_s = time.monotonic()
            try:
                server.start(timeout_s=SERVER_START_TIMEOUT_S)
            except Exception as e:  # a side that cannot start must not end the run
                for row, _ in plan:
                    row.results[side] = {"error": f"server did not start: {e}"}
                progress(f"{title}: did not start: {first_line(str(e))}")
                return facts
            facts["start_s"] = round(time.monotonic() - started_s, 2)
            facts["version"] = server_version(server)
            for row, workload in plan:
                if quiet_wait_s > 0:
                    await_quiet_machine(quiet_wait_s)
                row.results[side] = measure(server, workload, settings, run_dir, f"{side}-{variant}")
                report_progress(side, row)
        finally:
            server.stop()
            if server.log_path.exists():
                shutil.copyfile(server.log_path, run_dir / f"server-{side}-{variant}.log")
    return facts


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
        facts: dict[str, object] = {"config": server.config_lines(), "command": server.command()}
        try:
            settings_text = ", ".join(f"{k}={v}" for k, v in config.items())
            progress(f"{title}: {tree.label}: starting ({settings_text})")
            try:
                server.start(timeout_s=SERVER_START_TIMEOUT_S)
            except Exception as e:  # a side that cannot start must not end the run
                progress(f"{title}: did not start: {first_line(str(e))}")
                return {"error": f"server did not start: {e}"}, facts
            facts["version"] = server_version(server)
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
    settings = ", ".join(f"{k}={v}" for k, v in config.items())
    return (
        f"{tree.znodes:,} znodes under {parents:,} parents, {tree.value_size_bytes}-byte values;"
        f" {settings}; Apache ZooKeeper JVM {heap}"
    )


def measure(
    server: ServerProcess, workload: Workload, settings: LoadSettings, run_dir: Path, prefix: str
) -> dict[str, object]:
    if server.process is None or server.process.poll() is not None:
        return {"error": f"server is not running any more:\n{server.log_tail()}"}
    log_path = run_dir / f"loadgen-{prefix}-{workload.label.replace(' ', '-').replace('%', 'pct')}.log"
    result = run_loadgen(server.address, workload, settings, server.process.pid, log_path)
    if server.process.poll() is not None:
        died = f"server exited with {server.process.returncode} during the run:\n{server.log_tail()}"
        result = {**result, "error": f"{result['error']}\n{died}" if "error" in result else died}
    return result


def await_quiet_machine(max_wait_s: float) -> None:
    busy_pct = wait_until_quiet(QUIET_PCT, max_wait_s)
    if busy_pct >= QUIET_PCT:
        progress(f"machine still busy ({busy_pct:.0f}% of a core) after {max_wait_s:.0f} s; measuring anyway")


def server_version(server: ServerProcess) -> str:
    try:
        reply = four_letter_word(server.port, "srvr", server.host, timeout_s=5.0)
    except OSError as e:
        return f"unknown ({e})"
    return first_line(reply).removeprefix("Zookeeper version: ")


def first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0] if stripped else ""


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def report_progress(side: str, row: Row) -> None:
    title = SIDE_TITLES[side]
    result = row.results.get(side, {})
    rate = ops_per_s(result)
    if rate is None:
        progress(f"{title}: {row.label}: FAILED: {first_line(str(result.get('error', '')))}")
    else:
        progress(f"{title}: {row.label}: {rate:,.0f} ops/s, p50 {result['p50_us']} us, p99 {result['p99_us']} us")


def host_facts() -> dict[str, object]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "java": java_version(),
    }


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
    )
    ensure_compiled()
    run_dir = new_run_dir()
    groups = plan_groups(args)
    started = dt.datetime.now(dt.timezone.utc)
    servers: dict[str, list[dict[str, object]]] = {side: [] for side in args.servers}
    for config, plan in groups:
        for side in args.servers:
            servers[side].append(run_group(side, config, plan, settings, run_dir, args.quiet_wait))
    tree_rows = []
    for tree in args.trees:
        config = base_config(args)
        tree_row = TreeRow(tree.label, tree_description(tree, config), config)
        for side in args.servers:
            result, facts = run_tree(side, config, tree, settings, run_dir, args.quiet_wait)
            tree_row.results[side] = result
            servers[side].append(facts)
        tree_rows.append(tree_row)
    all_rows = [row for _, plan in groups for row, _ in plan]
    tables = []
    if all_rows:
        tables.append(format_table(all_rows))
    if tree_rows:
        tables.append(format_durability_table(tree_rows))
    table = "\n\n".join(tables)
    document = {
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "arguments": argv,
        "settings": asdict(settings),
        "servers": servers,
        "host": host_facts(),
        "rows": [row.to_json() for row in all_rows],
        "durability_rows": [row.to_json() for row in tree_rows],
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
