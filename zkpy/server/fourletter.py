"""Four-letter words on the client port (FourLetterCommands and the *Command classes).

Theory of operation: a connection whose first four bytes spell a known command gets the
command's text and is closed. `run` is the whole of it: it counts the word as one received packet
(ZooKeeper's `packetReceived(4)`, so the asking connection shows `recved=1` in `stat`), refuses
commands missing from `4lw.commands.whitelist` with ZooKeeper's line, otherwise renders the
command from the live server core, and counts the reply as sent packets as ZooKeeper's NIO
connection does (after rendering, so `srvr` after `srst` shows the `srst` reply).

The texts follow Apache ZooKeeper 3.8's byte for byte because tools (zkServer.sh status, kazoo,
aiozk, zktop, Telegraf, Solr) parse them with regexes. That includes its quirks: `dirs` and the
sizes in `conf` swap the snapshot and log directories, `wchs`/`wchc`/`wchp` show data watches
only, `hash` prints nothing without newline when not serving... Where Java iterates a hash table
(connections, watches, ephemerals), we sort instead: the order is ZooKeeper's accident, not its
format.

Known, deliberate differences:
* `hash` prints no digest history: zkpy keeps no tree digest yet, and that is exactly what
  ZooKeeper prints when the digest is disabled or no zxid has reached a multiple of 128.
* `dump` ends at "Connections dump:" with nothing after it, as ZooKeeper does with the Netty
  connection factory: zkpy has no expiry queue for connections without a session to list.
* `mntr` prints the AdminServer's `monitor` fields (admin_commands.monitor_fields): every key
  Apache 3.8 prints, in its order; what zkpy does not measure shows ZooKeeper's initial value.
* `envi` describes the Python runtime under ZooKeeper's java.* keys, which tools expect.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import os
import platform
import pwd
import resource
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from zkpy.server.version import ZOOKEEPER_VERSION

KNOWN_COMMANDS = frozenset(
    {"conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srst", "srvr",
     "stat", "wchc", "wchp", "wchs", "mntr", "isro", "hash"}
)
TELNET_CLOSE = b"\xff\xf4\xff\xfd"
TELNET_CLOSE_NAME = "telnet close"
"""FourLetterCommands' name for TELNET_CLOSE: what the whitelist and the refusal call it."""
NOT_SERVING = "This ZooKeeper instance is not currently serving requests\n"
DEFAULT_TRACE_MASK = 306
"""ZooTrace's default: client requests | server packets | sessions | warnings (2|16|32|256)."""

_MASK64 = (1 << 64) - 1
_OP_READ = 1
_OP_WRITE = 4
_REPLY_CHUNK_CHARS = 8192
"""NIO's SendBufferWriter sends (and counts) a 4lw reply in pieces of this many characters."""


@dataclass
class FourLetterContext:
    """What the commands read: the server core (None while not serving), its config, the mode
    (`standalone`, `leader`, ..., `read-only`), the start time, and ZooTrace's mask that
    `stmk` sets."""

    server: Any
    config: Any
    mode: Callable[[], str]
    started_monotonic_s: float
    trace_mask: int = DEFAULT_TRACE_MASK
    quorum: Any = None
    """The quorum peer's status (zkpy.server.runtime.replica.Replica) or None standalone."""
    admin: Any = None
    """The admin_commands.AdminContext built on this context (it registers itself): `mntr`
    prints its monitor fields, so the 4lw and the AdminServer report the same."""


def is_four_letter_word(first4: bytes) -> bool:
    return first4 == TELNET_CLOSE or first4.decode("latin-1") in KNOWN_COMMANDS


def command_name(first4: bytes) -> str:
    """The name `run` takes for the first four bytes of a connection."""
    return TELNET_CLOSE_NAME if first4 == TELNET_CLOSE else first4.decode("latin-1")


def run(command: str, ctx: FourLetterContext, conn: Any = None, argument: bytes = b"") -> str:
    """The reply to `command`; the caller writes it and closes the connection.

    `conn` is the asking connection, if the caller has one; `argument` holds whatever bytes
    followed the four letters in the same read (`stmk` takes its mask from the first eight).
    An empty reply means close without a word, as ZooKeeper does for `telnet close` and for
    `stmk` without its mask.
    """
    _count_packets(ctx, conn, received=1, sent=0)
    if command not in ctx.config.four_letter_words:
        reply = f"{command} is not executed because it is not in the whitelist.\n"
    elif command == "stmk":
        reply = _stmk(ctx, argument)
    else:
        handler = _COMMANDS.get(command)
        reply = handler(ctx, conn) if handler is not None else ""
    _count_packets(ctx, conn, received=0, sent=-(-len(reply) // _REPLY_CHUNK_CHARS))
    return reply


def _count_packets(ctx: FourLetterContext, conn: Any, received: int, sent: int) -> None:
    if conn is not None:
        conn.stats.packets_received += received
        conn.stats.packets_sent += sent
    if ctx.server is not None:
        ctx.server.stats.packets_received += received
        ctx.server.stats.packets_sent += sent


def _serving(ctx: FourLetterContext) -> bool:
    return ctx.server is not None and ctx.server.serving


# ---------------------------------------------------------------- Java's renderings


def java_double(value: float) -> str:
    """Double.toString: plain notation in [1e-3, 1e7), else d.dddE<exp>."""
    if value == 0:
        return "0.0"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if 1e-3 <= abs(value) < 1e7:
        return repr(value)
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    power = exponent + len(text) - 1
    mantissa = text[0] + "." + (text[1:] or "0")
    return f"{'-' if sign else ''}{mantissa}E{power}"


def java_average(total: int, count: int) -> float:
    """AvgMinMaxCounter.getAvg: the exact quotient rounded half-up to 4 decimals."""
    if count <= 0:
        return 0.0
    return float(Decimal(total / count).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def hex_id(value: int) -> str:
    """Long.toHexString with ZooKeeper's 0x prefix: session ids and zxids as unsigned 64 bit."""
    return f"0x{value & _MASK64:x}"


def java_socket_address(host: str, port: int) -> str:
    """InetSocketAddress.toString of an accepted peer (JDK 14+): /ip:port, IPv6 in brackets,
    written out in full as Inet6Address does; IPv4-mapped addresses come out as IPv4."""
    address, _, scope = host.partition("%")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"/{host}:{port}"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv4Address):
        return f"/{ip}:{port}"
    groups = ":".join(f"{int(g, 16):x}" for g in ip.exploded.split(":"))
    return f"/[{groups}{'%' + scope if scope else ''}]:{port}"


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def java_date(epoch_ms: int) -> str:
    """Date.toString in the local time zone: `Sun Nov 22 00:37:08 UTC 2026`, English always."""
    t = time.localtime(epoch_ms // 1000)
    return (f"{_DAYS[t.tm_wday]} {_MONTHS[t.tm_mon - 1]} {t.tm_mday:02d} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {t.tm_zone} {t.tm_year}")


def _unsigned(session_id: int) -> int:
    return session_id & _MASK64


# ---------------------------------------------------------------- srvr, stat, cons


def _server_stats(ctx: FourLetterContext) -> str:
    """ServerStats.toString."""
    server = ctx.server
    stats = server.stats
    lat = stats.latency
    return (
        f"Latency min/avg/max: {lat.min_ms}/{java_double(java_average(lat.total_ms, lat.count))}"
        f"/{lat.max_ms}\n"
        f"Received: {stats.packets_received}\n"
        f"Sent: {stats.packets_sent}\n"
        f"Connections: {len(server.connections)}\n"
        f"Outstanding: {server.outstanding_requests}\n"
        f"Zxid: {hex_id(server.last_zxid)}\n"
        f"Mode: {ctx.mode()}\n"
    )


def _interest_ops(ctx: FourLetterContext, conn: Any, asking: Any) -> int:
    """NIO's selection interest: nothing for the connection running this command or one whose
    reading is paused (throttled), write while output is queued."""
    if conn is asking:
        return 0
    state = ctx.server.connections.get(conn)
    ops = 0 if state is not None and state.paused else _OP_READ
    transport = getattr(conn, "transport", None)
    if transport is not None and transport.get_write_buffer_size():
        ops |= _OP_WRITE
    return ops


def connection_line(ctx: FourLetterContext, conn: Any, brief: bool, asking: Any = None) -> str:
    """ServerCnxn.dumpConnectionInfo plus the newline its callers print."""
    server = ctx.server
    state = server.connections.get(conn)
    stats = conn.stats
    ops = _interest_ops(ctx, conn, asking)
    line = (f" {java_socket_address(*conn.remote_address[:2])}[{ops:x}]"
            f"(queued={len(state.queue) if state is not None else 0},"
            f"recved={stats.packets_received},sent={stats.packets_sent}")
    if not brief and conn.session_id:
        session = server.tracker.sessions.get(conn.session_id)
        lat = stats.latency
        line += (f",sid={hex_id(conn.session_id)},lop={stats.last_op},est={stats.established_ms}"
                 f",to={session.timeout_ms if session is not None else 0}")
        if stats.last_cxid >= 0:
            line += f",lcxid={hex_id(stats.last_cxid)}"
        line += (f",lzxid={hex_id(stats.last_zxid)},lresp={stats.last_response_ms}"
                 f",llat={stats.last_latency_ms},minlat={lat.min_ms}"
                 f",avglat={lat.total_ms // lat.count if lat.count else 0},maxlat={lat.max_ms}")
    return line + ")\n"


def _stat_report(ctx: FourLetterContext, asking: Any, with_clients: bool) -> str:
    if not _serving(ctx):
        return NOT_SERVING
    out = [f"Zookeeper version: {ZOOKEEPER_VERSION}\n"]
    if ctx.mode() == "read-only":
        out.append("READ-ONLY mode; serving only read-only clients\n")
    if with_clients:
        out.append("Clients:\n")
        out.extend(connection_line(ctx, c, True, asking) for c in list(ctx.server.connections))
        out.append("\n")
    out.append(_server_stats(ctx))
    out.append(f"Node count: {ctx.server.tree.node_count}\n")
    if ctx.mode() == "leader" and ctx.quorum is not None:
        last, smallest, largest = ctx.quorum.proposal_sizes
        out.append(f"Proposal sizes last/min/max: {last}/{smallest}/{largest}\n")
    return "".join(out)


def _srvr(ctx: FourLetterContext, asking: Any) -> str:
    return _stat_report(ctx, asking, with_clients=False)


def _stat(ctx: FourLetterContext, asking: Any) -> str:
    return _stat_report(ctx, asking, with_clients=True)


def _cons(ctx: FourLetterContext, asking: Any) -> str:
    if not _serving(ctx):
        return NOT_SERVING
    lines = [connection_line(ctx, c, False, asking) for c in list(ctx.server.connections)]
    return "".join(lines) + "\n"


def _crst(ctx: FourLetterContext, asking: Any) -> str:
    if not _serving(ctx):
        return NOT_SERVING
    for conn in list(ctx.server.connections):
        conn.stats.reset()
    return "Connection stats reset.\n"


def _srst(ctx: FourLetterContext, asking: Any) -> str:
    if not _serving(ctx):
        return NOT_SERVING
    ctx.server.stats.reset()
    return "Server stats reset.\n"


# ---------------------------------------------------------------- small ones


def _ruok(ctx: FourLetterContext, asking: Any) -> str:
    return "imok"


def _isro(ctx: FourLetterContext, asking: Any) -> str:
    if not _serving(ctx):
        return "null"
    return "ro" if ctx.mode() == "read-only" else "rw"


def _gtmk(ctx: FourLetterContext, asking: Any) -> str:
    return str(ctx.trace_mask)


def _stmk(ctx: FourLetterContext, argument: bytes) -> str:
    # ZooKeeper reads the mask with one non-blocking read; short of eight bytes its getLong
    # throws and the connection closes without a word.
    if len(argument) < 8:
        return ""
    ctx.trace_mask = int.from_bytes(argument[:8], "big", signed=True)
    return str(ctx.trace_mask)


def _hash(ctx: FourLetterContext, asking: Any) -> str:
    # No digest history (see the module docstring); ZooKeeper's not-serving text here has no
    # newline.
    return "" if _serving(ctx) else NOT_SERVING.rstrip("\n")


# ---------------------------------------------------------------- conf, dirs, envi


def _version_dir(path: Path) -> Path:
    """FileTxnSnapLog's directory, as File.getAbsolutePath shows it (no resolving of ..)."""
    return Path(path).absolute() / "version-2"


def _dir_size(path: Path) -> int:
    """ZooKeeperServer.getDirSize: the lengths of all files below `path`, recursively."""
    if not path.is_dir():
        try:
            return path.stat().st_size
        except OSError:
            return 0
    try:
        return sum(_dir_size(child) for child in path.iterdir())
    except OSError:
        return 0


def _conf(ctx: FourLetterContext, asking: Any) -> str:
    if not _serving(ctx):
        return NOT_SERVING
    cfg = ctx.config
    snap_dir = _version_dir(cfg.data_dir)
    log_dir = _version_dir(cfg.data_log_dir)
    backlog = cfg.extra.get("clientPortListenBacklog", "-1")
    server_id = 0 if ctx.mode() == "standalone" else (cfg.server_id or 0)
    # dataDirSize measures the log directory and dataLogSize the snapshot one: ZooKeeper's
    # getDataDirSize/getLogDirSize are swapped, and tools compare against its numbers.
    lines = [
        f"clientPort={cfg.client_port if cfg.client_port is not None else -1}",
        "secureClientPort=-1",
        f"dataDir={snap_dir}",
        f"dataDirSize={_dir_size(log_dir)}",
        f"dataLogDir={log_dir}",
        f"dataLogSize={_dir_size(snap_dir)}",
        f"tickTime={cfg.tick_time_ms}",
        f"maxClientCnxns={cfg.max_client_cnxns}",
        f"minSessionTimeout={cfg.effective_min_session_timeout_ms}",
        f"maxSessionTimeout={cfg.effective_max_session_timeout_ms}",
        f"clientPortListenBacklog={backlog}",
        f"serverId={server_id}",
    ]
    return "".join(line + "\n" for line in lines)


def _dirs(ctx: FourLetterContext, asking: Any) -> str:
    if not _serving(ctx):
        return NOT_SERVING
    cfg = ctx.config
    # Swapped as in `conf`: datadir_size is the transaction log directory's.
    return (f"datadir_size: {_dir_size(_version_dir(cfg.data_log_dir))}\n"
            f"logdir_size: {_dir_size(_version_dir(cfg.data_dir))}\n")


@functools.cache
def _host_name() -> str:
    """InetAddress.getLocalHost().getCanonicalHostName(): resolve our name, then the address
    back; the address itself when it has no name, <NA> when our name does not resolve."""
    try:
        address = socket.gethostbyname(socket.gethostname())
    except OSError:
        return "<NA>"
    try:
        return socket.gethostbyaddr(address)[0]
    except OSError:
        return address


def _user() -> tuple[str, str]:
    try:
        entry = pwd.getpwuid(os.getuid())
    except KeyError:
        return "?", str(Path.home())
    return entry.pw_name, entry.pw_dir


def _memory_mb() -> tuple[int, int, int]:
    """(free, max, total) in MB, Runtime's triple for a process without a heap: total is the
    resident set, max the address-space limit or else the machine's memory, and free 0 because
    nothing is reserved beyond what is resident (so total - free is what is in use)."""
    page = os.sysconf("SC_PAGE_SIZE")
    try:
        resident = int(Path("/proc/self/statm").read_text().split()[1]) * page
    except (OSError, IndexError, ValueError):
        resident = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    if limit == resource.RLIM_INFINITY:
        limit = os.sysconf("SC_PHYS_PAGES") * page
    mb = 1024 * 1024
    return 0, limit // mb, resident // mb


# Java's os.arch names for what Python's platform.machine() reports.
_JAVA_ARCH = {"x86_64": "amd64", "AMD64": "amd64", "i686": "x86", "i386": "x86"}


def environment() -> list[tuple[str, str]]:
    """Environment.list's keys in its order. The java.* keys describe the Python runtime:
    tools read them by name and would miss them."""
    user_name, user_home = _user()
    free_mb, max_mb, total_mb = _memory_mb()
    machine = platform.machine()
    return [
        ("zookeeper.version", ZOOKEEPER_VERSION),
        ("host.name", _host_name()),
        ("java.version", platform.python_version()),
        ("java.vendor", platform.python_implementation()),
        ("java.home", sys.prefix),
        ("java.class.path", os.pathsep.join(sys.path)),
        ("java.library.path", "<NA>"),
        ("java.io.tmpdir", tempfile.gettempdir()),
        ("java.compiler", "<NA>"),
        ("os.name", platform.system()),
        ("os.arch", _JAVA_ARCH.get(machine, machine)),
        ("os.version", platform.release()),
        ("user.name", user_name),
        ("user.home", user_home),
        ("user.dir", os.getcwd()),
        ("os.memory.free", f"{free_mb}MB"),
        ("os.memory.max", f"{max_mb}MB"),
        ("os.memory.total", f"{total_mb}MB"),
    ]


def _envi(ctx: FourLetterContext, asking: Any) -> str:
    return "Environment:\n" + "".join(f"{key}={value}\n" for key, value in environment())


# ---------------------------------------------------------------- watches, dump


def _session_of(watcher: Any) -> int:
    return getattr(watcher, "session_id", 0)


def _wchs(ctx: FourLetterContext, asking: Any) -> str:
    if not _serving(ctx):
        return NOT_SERVING
    # ZooKeeper's DataTree summarises (and dumps) its data watches only.
    watches = ctx.server.tree.data_watches
    by_watcher = watches.by_watcher()
    total = sum(len(paths) for paths in by_watcher.values())
    return (f"{len(by_watcher)} connections watching {len(watches.by_path())} paths\n"
            f"Total watches:{total}\n")


def _wchc(ctx: FourLetterContext, asking: Any) -> str:
    if not _serving(ctx):
        return NOT_SERVING
    by_watcher = ctx.server.tree.data_watches.by_watcher()
    out = []
    for watcher in sorted(by_watcher, key=lambda w: _unsigned(_session_of(w))):
        out.append(f"{hex_id(_session_of(watcher))}\n")
        out.extend(f"\t{path}\n" for path in sorted(by_watcher[watcher]))
    return "".join(out) + "\n"


def _wchp(ctx: FourLetterContext, asking: Any) -> str:
    if not _serving(ctx):
        return NOT_SERVING
    by_path = ctx.server.tree.data_watches.by_path()
    out = []
    for path in sorted(by_path):
        out.append(f"{path}\n")
        sessions = sorted(_unsigned(_session_of(w)) for w in by_path[path])
        out.extend(f"\t{hex_id(s)}\n" for s in sessions)
    return "".join(out) + "\n"


def _sorted_ids(ids: Iterable[int]) -> list[int]:
    return sorted(ids, key=_unsigned)


def _dump(ctx: FourLetterContext, asking: Any) -> str:
    if not _serving(ctx):
        return NOT_SERVING
    server = ctx.server
    # SessionTrackerImpl's expiry queue: sessions bucketed by deadline. An expired session
    # (deadline 0) has left the queue although it is still being closed.
    buckets: dict[int, list[int]] = {}
    for session_id, session in server.tracker.sessions.items():
        if session.deadline_ms:
            buckets.setdefault(session.deadline_ms, []).append(session_id)
    queued = sum(len(ids) for ids in buckets.values())
    out = ["SessionTracker dump:\n", f"Session Sets ({len(buckets)})/({queued}):\n"]
    for deadline_ms in sorted(buckets):
        ids = _sorted_ids(buckets[deadline_ms])
        out.append(f"{len(ids)} expire at {java_date(deadline_ms)}:\n")
        out.extend(f"\t{hex_id(s)}\n" for s in ids)
    ephemerals = server.tree.ephemerals
    out.append("ephemeral nodes dump:\n")
    out.append(f"Sessions with Ephemerals ({len(ephemerals)}):\n")
    for session_id in _sorted_ids(ephemerals):
        out.append(f"{hex_id(session_id)}:\n")
        out.extend(f"\t{path}\n" for path in sorted(ephemerals[session_id]))
    out.append("Connections dump:\n")
    return "".join(out)


# ---------------------------------------------------------------- mntr


def _uptime_ms(ctx: FourLetterContext) -> int:
    return int((time.monotonic() - ctx.started_monotonic_s) * 1000)


def java_text(value: object) -> str:
    """A value as PrintWriter.println prints the boxed Java value: Long and Integer in decimal,
    Double as Double.toString, strings as they are."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double(value)
    return str(value)


def _mntr(ctx: FourLetterContext, asking: Any) -> str:
    if not _serving(ctx):
        return NOT_SERVING
    # The AdminServer's `monitor` fields are the one source of what `mntr` says; admin_commands
    # builds on this module, hence the late import.
    from zkpy.server import admin_commands

    admin = ctx.admin
    if admin is None:
        admin = admin_commands.AdminContext(ctx, ctx.quorum, getattr(ctx.server, "metrics", None))
    fields = admin_commands.monitor_fields(admin)
    return "".join(f"zk_{key}\t{java_text(value)}\n" for key, value in fields)


_COMMANDS: dict[str, Callable[[FourLetterContext, Any], str]] = {
    "conf": _conf,
    "cons": _cons,
    "crst": _crst,
    "dirs": _dirs,
    "dump": _dump,
    "envi": _envi,
    "gtmk": _gtmk,
    "hash": _hash,
    "isro": _isro,
    "mntr": _mntr,
    "ruok": _ruok,
    "srst": _srst,
    "srvr": _srvr,
    "stat": _stat,
    "wchc": _wchc,
    "wchp": _wchp,
    "wchs": _wchs,
}
