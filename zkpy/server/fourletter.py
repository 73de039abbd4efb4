"""Four-letter words on the client port (FourLetterCommands and the *Command classes).

A connection whose first four bytes spell a known command gets the command's text and is
closed. Commands not on `4lw.commands.whitelist` get ZooKeeper's refusal line instead. The texts
follow Apache ZooKeeper's byte for byte because tools (zkServer.sh status, kazoo, aiozk, zktop,
Telegraf, Solr) parse them with regexes.
"""

from __future__ import annotations

import os
import platform
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkpy.server.version import ZOOKEEPER_VERSION

KNOWN_COMMANDS = frozenset(
    {"conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srst", "srvr",
     "stat", "wchc", "wchp", "wchs", "mntr", "isro", "hash"}
)
TELNET_CLOSE = b"\xff\xf4\xff\xfd"
NOT_SERVING = "This ZooKeeper instance is not currently serving requests\n"


@dataclass
class FourLetterContext:
    """What the commands read: the server core, its config and where its files are."""

    server: Any
    config: Any
    mode: Callable[[], str]
    started_monotonic_s: float


def is_four_letter_word(first4: bytes) -> bool:
    return first4 == TELNET_CLOSE or first4.decode("latin-1") in KNOWN_COMMANDS


def java_double(value: float) -> str:
    """Double.toString for the plain magnitudes that latency averages take."""
    if value == int(value) and abs(value) < 1e7:
        return f"{value:.1f}"
    return repr(round(value, 4)) if 1e-3 <= abs(value) < 1e7 else repr(value)


def run(command: str, ctx: FourLetterContext) -> str:
    if command not in ctx.config.four_letter_words:
        return f"{command} is not executed because it is not in the whitelist.\n"
    handler = _COMMANDS.get(command)
    if handler is None:
        return ""
    return handler(ctx)


def _server_stats(ctx: FourLetterContext) -> str:
    server = ctx.server
    lat = server.stats.latency
    return (
        f"Latency min/avg/max: {lat.min_ms}/{java_double(lat.avg_ms)}/{lat.max_ms}\n"
        f"Received: {server.stats.packets_received}\n"
        f"Sent: {server.stats.packets_sent}\n"
        f"Connections: {len(server.connections)}\n"
        f"Outstanding: {server.outstanding_requests}\n"
        f"Zxid: 0x{server.last_zxid:x}\n"
        f"Mode: {ctx.mode()}\n"
    )


def _srvr(ctx: FourLetterContext) -> str:
    return (f"Zookeeper version: {ZOOKEEPER_VERSION}\n" + _server_stats(ctx)
            + f"Node count: {ctx.server.tree.node_count}\n")


def connection_line(conn: Any, brief: bool) -> str:
    host, port = conn.remote_address[:2]
    stats = conn.stats
    queued = len(conn.server_state().queue) if conn.server_state() is not None else 0
    line = f" /{host}:{port}[1](queued={queued},recved={stats.packets_received},sent={stats.packets_sent}"
    if not brief:
        if conn.session_id:
            line += f",sid=0x{conn.session_id & (2**64 - 1):x},lop={stats.last_op},est={stats.established_ms}"
            line += f",to={conn.timeout_ms}"
            if stats.last_cxid >= 0:
                line += f",lcxid=0x{stats.last_cxid & 0xFFFFFFFF:x}"
            line += f",lzxid=0x{stats.last_zxid & (2**64 - 1):x},lresp={stats.last_response_ms}"
            line += f",llat={stats.last_latency_ms},minlat={stats.latency.min_ms}"
            line += f",avglat={stats.latency.total_ms // stats.latency.count if stats.latency.count else 0}"
            line += f",maxlat={stats.latency.max_ms}"
    return line + ")\n"


def _stat(ctx: FourLetterContext) -> str:
    out = [f"Zookeeper version: {ZOOKEEPER_VERSION}\n", "Clients:\n"]
    for conn in list(ctx.server.connections):
        out.append(connection_line(conn, brief=True))
    out.append("\n")
    out.append(_server_stats(ctx))
    out.append(f"Node count: {ctx.server.tree.node_count}\n")
    return "".join(out)


def _cons(ctx: FourLetterContext) -> str:
    return "".join(connection_line(conn, brief=False) for conn in list(ctx.server.connections)) + "\n"


def _ruok(ctx: FourLetterContext) -> str:
    return "imok"


def _isro(ctx: FourLetterContext) -> str:
    return "ro" if ctx.mode() == "read-only" else "rw"


def _envi(ctx: FourLetterContext) -> str:
    lines = [
        ("zookeeper.version", ZOOKEEPER_VERSION),
        ("host.name", socket.gethostname()),
        ("java.version", platform.python_version()),
        ("java.vendor", platform.python_implementation()),
        ("java.home", sys.prefix),
        ("java.class.path", os.pathsep.join(sys.path)),
        ("java.library.path", ""),
        ("java.io.tmpdir", os.environ.get("TMPDIR", "/tmp")),
        ("java.compiler", "<NA>"),
        ("os.name", platform.system()),
        ("os.arch", platform.machine()),
        ("os.version", platform.release()),
        ("user.name", os.environ.get("USER", "")),
        ("user.home", str(Path.home())),
        ("user.dir", os.getcwd()),
        ("os.memory.free", "0MB"),
        ("os.memory.max", "0MB"),
        ("os.memory.total", "0MB"),
    ]
    return "Environment:\n" + "".join(f"{k}={v}\n" for k, v in lines)


def _conf(ctx: FourLetterContext) -> str:
    cfg = ctx.config
    client_address = cfg.client_port_address or "0.0.0.0"
    lines = [
        f"clientPort={cfg.client_port}",
        f"secureClientPort=-1",
        f"dataDir={Path(cfg.data_dir) / 'version-2'}",
        f"dataDirSize={_dir_size(Path(cfg.data_dir) / 'version-2')}",
        f"dataLogDir={Path(cfg.data_log_dir) / 'version-2'}",
        f"dataLogSize={_dir_size(Path(cfg.data_log_dir) / 'version-2')}",
        f"tickTime={cfg.tick_time_ms}",
        f"maxClientCnxns={cfg.max_client_cnxns}",
        f"minSessionTimeout={cfg.effective_min_session_timeout_ms}",
        f"maxSessionTimeout={cfg.effective_max_session_timeout_ms}",
        f"clientPortListenBacklog=-1",
        f"serverId={cfg.server_id or 0}",
    ]
    del client_address
    return "".join(line + "\n" for line in lines)


def _dir_size(path: Path) -> int:
    try:
        return sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    except OSError:
        return 0


def _dirs(ctx: FourLetterContext) -> str:
    cfg = ctx.config
    return (f"datadir_size: {_dir_size(Path(cfg.data_dir) / 'version-2')}\n"
            f"logdir_size: {_dir_size(Path(cfg.data_log_dir) / 'version-2')}\n")


def _wchs(ctx: FourLetterContext) -> str:
    tree = ctx.server.tree
    data_by_watcher = tree.data_watches.by_watcher()
    child_by_watcher = tree.child_watches.by_watcher()
    watchers = set(data_by_watcher) | set(child_by_watcher)
    paths = set(tree.data_watches.by_path()) | set(tree.child_watches.by_path())
    total = tree.data_watches.watch_count + tree.child_watches.watch_count
    return f"{len(watchers)} connections watching {len(paths)} paths\nTotal watches:{total}\n"


def _mntr(ctx: FourLetterContext) -> str:
    server = ctx.server
    tree = server.tree
    lat = server.stats.latency
    fields: list[tuple[str, Any]] = [
        ("version", ZOOKEEPER_VERSION),
        ("server_state", ctx.mode()),
        ("avg_latency", java_double(lat.avg_ms)),
        ("max_latency", lat.max_ms),
        ("min_latency", lat.min_ms),
        ("packets_received", server.stats.packets_received),
        ("packets_sent", server.stats.packets_sent),
        ("num_alive_connections", len(server.connections)),
        ("outstanding_requests", server.outstanding_requests),
        ("znode_count", tree.node_count),
        ("watch_count", tree.data_watches.watch_count + tree.child_watches.watch_count),
        ("ephemerals_count", sum(len(p) for p in tree.ephemerals.values())),
        ("approximate_data_size", tree.approximate_data_size),
        ("open_file_descriptor_count", _open_fds()),
        ("max_file_descriptor_count", _max_fds()),
        ("uptime", int((time.monotonic() - ctx.started_monotonic_s) * 1000)),
        ("global_sessions", len(server.tracker.sessions)),
        ("local_sessions", 0),
        ("auth_failed_count", server.stats.auth_failed_count),
    ]
    return "".join(f"zk_{key}\t{value}\n" for key, value in fields)


def _open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return -1


def _max_fds() -> int:
    import resource

    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _srst(ctx: FourLetterContext) -> str:
    ctx.server.stats.reset()
    return "Server stats reset.\n"


def _crst(ctx: FourLetterContext) -> str:
    for conn in list(ctx.server.connections):
        conn.stats.reset()
    return "Connection stats reset.\n"


_COMMANDS: dict[str, Callable[[FourLetterContext], str]] = {
    "srvr": _srvr,
    "stat": _stat,
    "cons": _cons,
    "ruok": _ruok,
    "isro": _isro,
    "envi": _envi,
    "conf": _conf,
    "dirs": _dirs,
    "wchs": _wchs,
    "mntr": _mntr,
    "srst": _srst,
    "crst": _crst,
}
