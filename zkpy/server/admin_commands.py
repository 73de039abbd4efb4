"""The AdminServer's commands (ZooKeeper's admin.Commands), as plain data.

Theory of operation: `run_command(name, ctx, params)` looks the name up among every command's
names and aliases and returns the CommandResponse as ZooKeeper's JsonOutputter sees it: the
command's own fields first, then "command" (the primary name) and "error" (None when all went
well). A field the command itself named "error" keeps its place (`leader` on a standalone
server, `set_trace_mask` without a mask). Unknown names, and commands that need a serving
server while there is none, answer with the name as asked and an error text, as ZooKeeper
does. Nothing here does I/O beyond what the 4lw commands already do (directory sizes, the
snapshot directory listing for `last_snapshot`); the HTTP side is zkpy.server.runtime.admin_http.

Field names and nesting are Apache ZooKeeper 3.8's, including its accidents: `dirs` swaps the
snapshot and log directory sizes as the 4lw does, `zabstate` serialises the peer's quorum and
election addresses as the Java bean Jackson makes of MultipleAddresses, and the watch commands
show data watches only. Where Java iterates a hash table we sort.

Ensemble state comes from an optional `QuorumView` (below), which the ensemble code provides;
without one every command gives ZooKeeper's standalone answer. Known differences:
* `hash` lists no digests (zkpy keeps no digest history yet; ZooKeeper's answer when no zxid
  has reached a multiple of 128).
* `system_properties` maps Python's runtime onto the JVM's standard keys and lists
  `zookeeper.<key>` for the zoo.cfg keys kept in ServerConfig.extra only.
* `monitor` needs a serving server (ZooKeeper fails with HTTP 500 without one).
* `observer_master_id` (observers' `monitor`) is the leader's id: zkpy observers follow the
  leader directly.
"""

from __future__ import annotations

import os
import re
import resource
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from zkpy.persistence.names import SNAPSHOT_PREFIX, sort_data_dir, zxid_from_name
from zkpy.server.fourletter import (
    FourLetterContext,
    _dir_size,
    _interest_ops,
    _serving,
    _uptime_ms,
    _version_dir,
    environment,
    java_average,
    java_socket_address,
)
from zkpy.server.server_spec import LearnerType, QuorumServer
from zkpy.server.version import ZOOKEEPER_VERSION

if TYPE_CHECKING:
    from zkpy.server.metrics import PrometheusExport, ServerMetrics

NOT_SERVING_ERROR = "This ZooKeeper instance is not currently serving requests"
Params = Mapping[str, str]
Fields = list[tuple[str, object]]
_JAVA_LONG = re.compile(r"[+-]?[0-9]+")
_NO_BUFFERS = (-1, -1, -1)


# ---------------------------------------------------------------- what the ensemble provides


@dataclass(frozen=True, slots=True)
class LearnerInfo:
    """One learner connected to this server (LearnerHandler.getLearnerHandlerInfo)."""

    sid: int
    learner_type: LearnerType
    synced: bool
    """True once the learner has synced and receives proposals (Leader.forwardingFollowers,
    Leader.observingLearners)."""
    remote_address: tuple[str, int]
    established_ms: int
    queued_packets: int = 0
    queued_packets_size: int = 0
    packets_received: int = 0
    packets_sent: int = 0
    requests: int = 0
    last_zxid: int = -1


class QuorumView(Protocol):
    """What the AdminServer and the metrics read from the quorum peer (ZooKeeper's QuorumPeer,
    Leader and Follower). The attributes may be plain attributes or properties; they are read at
    request or scrape time only, on the event loop.

    leader_id: the current leader's sid, -1 while none is known (QuorumPeer.getLeaderId).
    leader_address: the leader's quorum host as written in its server line (ZooKeeper joins
        several with "|"), None while unknown (QuorumPeer.getLeaderAddress).
    zab_state: ELECTION, DISCOVERY, SYNCHRONIZATION or BROADCAST (QuorumPeer.ZabState).
    sync_mode: NONE, DIFF, SNAP or TRUNC, how this peer is syncing (QuorumPeer.SyncMode).
    pending_syncs: on the leader, learners' sync requests waiting for a commit.
    leader_uptime_ms: on the leader, how long it has been leading.
    proposal_sizes: on the leader, the sizes of the last, smallest and largest txn it proposed
        in its current term, -1 each before the first (Leader's ProposalStats; ZooKeeper's
        txns also carry a 12-byte digest, which zkpy's proposals leave out).
    members(): the current configuration, participants and observers, by sid.
    learners(): on the leader, every learner handler; on a follower, the observers it serves;
        empty otherwise.
    reset_observer_stats(): zero the packet/request counters of the observers' handlers.
    """

    leader_id: int
    leader_address: str | None
    zab_state: str
    sync_mode: str
    pending_syncs: int
    leader_uptime_ms: int
    proposal_sizes: tuple[int, int, int]

    def members(self) -> Mapping[int, QuorumServer]: ...

    def learners(self) -> Sequence[LearnerInfo]: ...

    def reset_observer_stats(self) -> None: ...


@dataclass
class AdminContext:
    """What the commands read: the 4lw context (server core, config, mode, start time, trace
    mask), the quorum peer if there is one, the metrics and their Prometheus export when that
    provider is on, and the text of zoo.cfg as read at start-up (`initial_configuration`)."""

    four_letter: FourLetterContext
    quorum: QuorumView | None = None
    metrics: ServerMetrics | None = None
    prometheus: PrometheusExport | None = None
    initial_config: str | None = None

    def __post_init__(self) -> None:
        # The 4lw `mntr` prints this context's monitor fields: one source for both.
        self.four_letter.admin = self


@dataclass(frozen=True, slots=True)
class Command:
    names: tuple[str, ...]
    """The primary name first, then the aliases."""
    run: Callable[[AdminContext, Params], dict[str, object]]
    server_required: bool = True

    @property
    def primary(self) -> str:
        return self.names[0]


# ---------------------------------------------------------------- small helpers


def _host_port(host: str, port: int) -> str:
    """InetSocketAddress as Jackson writes it: host as written, IPv6 literals in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _peer_address(host: str, port: int) -> str:
    """An accepted socket's address as Jackson writes it: `ip:port`, IPv6 in brackets."""
    return java_socket_address(host, port).removeprefix("/")


def _quorum(ctx: AdminContext) -> QuorumView | None:
    """The quorum view while this peer runs a quorum server; ZooKeeper gives its standalone
    answers whenever its server is not a QuorumZooKeeperServer (also while electing)."""
    return ctx.quorum if _serving(ctx.four_letter) else None


def _buffer_stats(sizes: tuple[int, int, int]) -> dict[str, object]:
    """BufferStats from (last, min, max): -1 everywhere until a buffer has been seen."""
    last, smallest, largest = sizes
    return {"last_buffer_size": last, "min_buffer_size": smallest, "max_buffer_size": largest}


def _is_secure(conn: Any) -> bool:
    transport = getattr(conn, "transport", None)
    return transport is not None and transport.get_extra_info("ssl_object") is not None


def connection_info(ctx: FourLetterContext, conn: Any, brief: bool) -> dict[str, object]:
    """ServerCnxn.getConnectionInfo."""
    server = ctx.server
    state = server.connections.get(conn)
    stats = conn.stats
    info: dict[str, object] = {
        "remote_socket_address": _peer_address(*conn.remote_address[:2]),
        "interest_ops": _interest_ops(ctx, conn, None),
        "outstanding_requests": len(state.queue) if state is not None else 0,
        "packets_received": stats.packets_received,
        "packets_sent": stats.packets_sent,
    }
    if brief:
        return info
    session = server.tracker.sessions.get(conn.session_id) if conn.session_id else None
    lat = stats.latency
    info.update({
        "session_id": conn.session_id,
        "last_operation": stats.last_op,
        "established": stats.established_ms,
        "session_timeout": session.timeout_ms if session is not None else 0,
        "last_cxid": stats.last_cxid,
        "last_zxid": stats.last_zxid,
        "last_response_time": stats.last_response_ms,
        "last_latency": stats.last_latency_ms,
        "min_latency": lat.min_ms,
        "avg_latency": lat.total_ms // lat.count if lat.count else 0,
        "max_latency": lat.max_ms,
    })
    return info


def _connections(ctx: FourLetterContext, brief: bool) -> dict[str, object]:
    plain: list[dict[str, object]] = []
    secure: list[dict[str, object]] = []
    for conn in list(ctx.server.connections):
        (secure if _is_secure(conn) else plain).append(connection_info(ctx, conn, brief))
    return {"connections": plain, "secure_connections": secure}


def _learner_info(learner: LearnerInfo) -> dict[str, object]:
    return {
        "remote_socket_address": java_socket_address(*learner.remote_address[:2]),
        "sid": learner.sid,
        "established": learner.established_ms,
        "queued_packets": learner.queued_packets,
        "queued_packets_size": learner.queued_packets_size,
        "packets_received": learner.packets_received,
        "packets_sent": learner.packets_sent,
        "requests": learner.requests,
        "last_zxid": learner.last_zxid,
    }


def _synced_observers(quorum: QuorumView) -> list[LearnerInfo]:
    return [lr for lr in quorum.learners()
            if lr.learner_type is LearnerType.OBSERVER and lr.synced]


# ---------------------------------------------------------------- gauges (mntr, /metrics)


def _open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return -1


def _max_fds() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _ephemerals_count(ctx: AdminContext) -> int:
    return sum(len(paths) for paths in ctx.four_letter.server.tree.ephemerals.values())


def _global_sessions(ctx: AdminContext) -> int:
    # A quorum server's tracker knows the sessions of its own clients only; the tree has all.
    fl = ctx.four_letter
    return len(fl.server.tracker.sessions if fl.quorum is None else fl.server.tree.sessions)


def _client_response(ctx: AdminContext) -> tuple[int, int, int]:
    """Last, smallest and largest reply size (ServerStats' BufferStats), -1 before the first."""
    stats = ctx.metrics.client_response if ctx.metrics is not None else None
    return (stats.last, stats.min, stats.max) if stats is not None else _NO_BUFFERS


def _view(ctx: AdminContext) -> QuorumView:
    """The quorum view, for gauges that exist only on a quorum peer's server."""
    quorum = _quorum(ctx)
    assert quorum is not None
    return quorum


def _synced_followers(ctx: AdminContext, voting: bool) -> int:
    quorum = _view(ctx)
    participants = {sid for sid, m in quorum.members().items() if m.role is LearnerType.PARTICIPANT}
    return sum(1 for lr in quorum.learners()
               if lr.learner_type is LearnerType.PARTICIPANT and lr.synced
               and (lr.sid in participants) == voting)


def _synced_observer_count(ctx: AdminContext) -> int | None:
    """The leader's synced observers; on a follower those it serves, null (left out of `mntr`)
    when it serves none."""
    quorum = _view(ctx)
    mode = ctx.four_letter.mode()
    if mode == "leader" or (mode == "follower" and quorum.learners()):
        return len(_synced_observers(quorum))
    return None


def _average(latency: Any) -> float:
    return java_average(latency.total_ms, latency.count)


def _quorum_size(ctx: AdminContext) -> int:
    return sum(1 for m in _view(ctx).members().values() if m.role is LearnerType.PARTICIPANT)


ALWAYS, QUORUM, LEADER = "always", "quorum", "leader"
"""When a gauge exists: on every server; on a quorum peer's server (ZooKeeper registers it with
the quorum server); only while leading (registered when leading starts, removed when it ends)."""

Gauge = tuple[str, str, Callable[[AdminContext], object]]

GAUGES: tuple[Gauge, ...] = (
    ("ephemerals_count", ALWAYS, _ephemerals_count),
    ("num_alive_connections", ALWAYS, lambda c: len(c.four_letter.server.connections)),
    ("avg_latency", ALWAYS, lambda c: _average(c.four_letter.server.stats.latency)),
    ("min_proposal_size", LEADER, lambda c: _view(c).proposal_sizes[1]),
    ("outstanding_requests", ALWAYS, lambda c: c.four_letter.server.outstanding_requests),
    ("znode_count", ALWAYS, lambda c: c.four_letter.server.tree.node_count),
    ("global_sessions", ALWAYS, _global_sessions),
    ("non_mtls_remote_conn_count", ALWAYS, lambda c: 0),
    ("last_client_response_size", ALWAYS, lambda c: _client_response(c)[0]),
    ("packets_sent", ALWAYS, lambda c: c.four_letter.server.stats.packets_sent),
    ("packets_received", ALWAYS, lambda c: c.four_letter.server.stats.packets_received),
    ("max_proposal_size", LEADER, lambda c: _view(c).proposal_sizes[2]),
    ("max_client_response_size", ALWAYS, lambda c: _client_response(c)[2]),
    ("synced_followers", LEADER, lambda c: _synced_followers(c, voting=True)),
    ("connection_drop_probability", ALWAYS, lambda c: 0.0),
    ("watch_count", ALWAYS, lambda c: c.four_letter.server.tree.data_watches.watch_count
     + c.four_letter.server.tree.child_watches.watch_count),
    ("synced_non_voting_followers", LEADER, lambda c: _synced_followers(c, voting=False)),
    ("synced_observers", QUORUM, _synced_observer_count),
    ("auth_failed_count", ALWAYS, lambda c: c.four_letter.server.stats.auth_failed_count),
    ("min_latency", ALWAYS, lambda c: c.four_letter.server.stats.latency.min_ms),
    ("max_file_descriptor_count", ALWAYS, lambda c: _max_fds()),
    ("approximate_data_size", ALWAYS, lambda c: c.four_letter.server.tree.approximate_data_size),
    ("open_file_descriptor_count", ALWAYS, lambda c: _open_fds()),
    ("last_proposal_size", LEADER, lambda c: _view(c).proposal_sizes[0]),
    ("pending_syncs", LEADER, lambda c: _view(c).pending_syncs),
    ("leader_uptime", LEADER, lambda c: _view(c).leader_uptime_ms),
    ("local_sessions", ALWAYS, lambda c: 0),
    ("uptime", ALWAYS, lambda c: _uptime_ms(c.four_letter)),
    ("max_latency", ALWAYS, lambda c: c.four_letter.server.stats.latency.max_ms),
    ("outstanding_tls_handshake", ALWAYS, lambda c: 0),
    ("learners", LEADER, lambda c: len(_view(c).learners())),
    ("min_client_response_size", ALWAYS, lambda c: _client_response(c)[1]),
    ("non_mtls_local_conn_count", ALWAYS, lambda c: 0),
    ("quorum_size", QUORUM, _quorum_size),
)
"""Every gauge ZooKeeper 3.8 registers, in the order its default provider dumps them (a
ConcurrentHashMap's order, which a given set of names keeps; those absent in a mode are simply
skipped). zkpy has no mTLS, TLS handshake throttling, connection dropping or local sessions:
those read as ZooKeeper's do when unused."""


def gauge_values(ctx: AdminContext) -> Fields:
    """The gauges that exist in this server's mode, with their values, in ZooKeeper's order;
    None is ZooKeeper's null (left out of `mntr`, 0 in Prometheus)."""
    present = {ALWAYS}
    if _quorum(ctx) is not None:
        present.add(QUORUM)
        if ctx.four_letter.mode() == "leader":
            present.add(LEADER)
    return [(name, read(ctx)) for name, when, read in GAUGES if when in present]


_PEER_STATES = {"leader": "leading", "follower": "following", "observer": "observing"}


def detailed_peer_state(mode: str, quorum: QuorumView) -> str:
    """QuorumPeer.getDetailedPeerState: `following - broadcast`, `leading - synchronization -
    diff`, `looking`..."""
    text = _PEER_STATES.get(mode, "looking")
    if quorum.zab_state != "ELECTION":
        text += " - " + quorum.zab_state.lower()
    if quorum.sync_mode != "NONE":
        text += " - " + quorum.sync_mode.lower()
    return text


def monitor_fields(ctx: AdminContext) -> Fields:
    """What `mntr` reports, in order, for the 4lw and the AdminServer alike
    (ZooKeeperServer.dumpMonitorValues, then the metrics provider's dump: the gauges that exist
    and are not null, then the counters and summaries)."""
    fl = ctx.four_letter
    mode = fl.mode()
    fields: Fields = [("version", ZOOKEEPER_VERSION), ("server_state", mode)]
    quorum = _quorum(ctx)
    if quorum is not None:
        fields.append(("peer_state", detailed_peer_state(mode, quorum)))
        if mode == "observer":
            fields.append(("observer_master_id", quorum.leader_id))
    if ctx.prometheus is not None:
        fields += ctx.prometheus.dump()
        return fields
    fields += [(k, v) for k, v in gauge_values(ctx) if v is not None]
    if ctx.metrics is not None:
        fields += ctx.metrics.dump()
    return fields


# ---------------------------------------------------------------- the commands


def _crst(ctx: AdminContext, params: Params) -> dict[str, object]:
    for conn in list(ctx.four_letter.server.connections):
        conn.stats.reset()
    return {}


def _conf(ctx: AdminContext, params: Params) -> dict[str, object]:
    """ZooKeeperServerConf.toMap."""
    fl = ctx.four_letter
    cfg = fl.config
    return {
        "client_port": cfg.client_port if cfg.client_port is not None else -1,
        "data_dir": str(_version_dir(cfg.data_dir)),
        "data_log_dir": str(_version_dir(cfg.data_log_dir)),
        "tick_time": cfg.tick_time_ms,
        "max_client_cnxns": cfg.max_client_cnxns,
        "min_session_timeout": cfg.effective_min_session_timeout_ms,
        "max_session_timeout": cfg.effective_max_session_timeout_ms,
        "server_id": 0 if fl.mode() == "standalone" else (cfg.server_id or 0),
        "client_port_listen_backlog": int(cfg.extra.get("clientPortListenBacklog", "-1")),
    }


def _cons(ctx: AdminContext, params: Params) -> dict[str, object]:
    return _connections(ctx.four_letter, brief=False)


def _dirs(ctx: AdminContext, params: Params) -> dict[str, object]:
    cfg = ctx.four_letter.config
    # Swapped, as ZooKeeper's getDataDirSize/getLogDirSize are (see fourletter).
    return {"datadir_size": _dir_size(_version_dir(cfg.data_log_dir)),
            "logdir_size": _dir_size(_version_dir(cfg.data_dir))}


def _dump(ctx: AdminContext, params: Params) -> dict[str, object]:
    server = ctx.four_letter.server
    expiry: dict[int, list[int]] = {}
    for session_id, session in server.tracker.sessions.items():
        if session.deadline_ms:
            expiry.setdefault(session.deadline_ms, []).append(session_id)
    ephemerals = server.tree.ephemerals
    return {
        "expiry_time_to_session_ids": {t: sorted(expiry[t]) for t in sorted(expiry)},
        "session_id_to_ephemeral_paths": {s: sorted(ephemerals[s]) for s in sorted(ephemerals)},
    }


def _envi(ctx: AdminContext, params: Params) -> dict[str, object]:
    return dict(environment())


def _hash(ctx: AdminContext, params: Params) -> dict[str, object]:
    return {"digests": []}


def _gtmk(ctx: AdminContext, params: Params) -> dict[str, object]:
    return {"tracemask": ctx.four_letter.trace_mask}


def _stmk(ctx: AdminContext, params: Params) -> dict[str, object]:
    text = params.get("traceMask")
    if text is None:
        return {"error": "setTraceMask requires long traceMask argument"}
    # Long.parseLong: an optional sign and ASCII digits, within 64 bits.
    mask = int(text) if _JAVA_LONG.fullmatch(text) else None
    if mask is None or not -(1 << 63) <= mask < (1 << 63):
        return {"error": f"setTraceMask requires long traceMask argument, got {text}"}
    ctx.four_letter.trace_mask = mask
    return {"tracemask": mask}


def _icfg(ctx: AdminContext, params: Params) -> dict[str, object]:
    return {"initial_configuration": ctx.initial_config}


def _isro(ctx: AdminContext, params: Params) -> dict[str, object]:
    return {"read_only": ctx.four_letter.mode() == "read-only"}


def last_snapshot(snap_dir: Path) -> tuple[int, int]:
    """(zxid, timestamp in seconds) of the newest snapshot file, (-1, -1) without one."""
    try:
        names = [n for n in os.listdir(snap_dir)
                 if not n.endswith(".tmp") and zxid_from_name(n, SNAPSHOT_PREFIX) != -1]
    except OSError:
        return -1, -1
    for name in sort_data_dir(names, SNAPSHOT_PREFIX, ascending=False):
        try:
            return zxid_from_name(name, SNAPSHOT_PREFIX), int((snap_dir / name).stat().st_mtime)
        except OSError:
            continue
    return -1, -1


def _lsnp(ctx: AdminContext, params: Params) -> dict[str, object]:
    zxid, timestamp_s = last_snapshot(_version_dir(ctx.four_letter.config.data_dir))
    return {"zxid": f"{zxid & ((1 << 64) - 1):x}", "timestamp": timestamp_s}


def _lead(ctx: AdminContext, params: Params) -> dict[str, object]:
    quorum = _quorum(ctx)
    if quorum is None:
        return {"error": "server is not initialized"}
    return {"is_leader": ctx.four_letter.mode() == "leader", "leader_id": quorum.leader_id,
            "leader_ip": quorum.leader_address or ""}


def _mntr(ctx: AdminContext, params: Params) -> dict[str, object]:
    return dict(monitor_fields(ctx))


def _orst(ctx: AdminContext, params: Params) -> dict[str, object]:
    quorum = _quorum(ctx)
    if quorum is not None and ctx.four_letter.mode() in ("leader", "follower"):
        quorum.reset_observer_stats()
    return {}


def _obsr(ctx: AdminContext, params: Params) -> dict[str, object]:
    quorum = _quorum(ctx)
    mode = ctx.four_letter.mode()
    # A follower that serves no observers answers like a standalone server (its synced
    # observer count is null in ZooKeeper).
    if quorum is not None and (mode == "leader" or (mode == "follower" and quorum.learners())):
        observers = sorted(_synced_observers(quorum), key=lambda learner: learner.sid)
        return {"synced_observers": len(observers),
                "observers": [_learner_info(o) for o in observers]}
    return {"synced_observers": 0, "observers": []}


def _ruok(ctx: AdminContext, params: Params) -> dict[str, object]:
    return {}


def _server_stats(ctx: AdminContext) -> dict[str, object]:
    """ServerStats as Jackson serialises the bean, in the order ZooKeeper 3.8 prints it."""
    fl = ctx.four_letter
    server = fl.server
    stats = server.stats
    lat = stats.latency
    cfg = fl.config
    metrics = ctx.metrics
    return {
        "packets_sent": stats.packets_sent,
        "packets_received": stats.packets_received,
        "fsync_threshold_exceed_count":
            metrics.fsync_threshold_exceed_count if metrics is not None else 0,
        "client_response_stats": _buffer_stats(_client_response(ctx)),
        "data_dir_size": _dir_size(_version_dir(cfg.data_log_dir)),
        "log_dir_size": _dir_size(_version_dir(cfg.data_dir)),
        "provider_null": False,
        "server_state": fl.mode(),
        "last_processed_zxid": server.last_zxid,
        "outstanding_requests": server.outstanding_requests,
        "avg_latency": java_average(lat.total_ms, lat.count),
        "max_latency": lat.max_ms,
        "min_latency": lat.min_ms,
        "num_alive_client_connections": len(server.connections),
        "uptime": _uptime_ms(fl),
        "auth_failed_count": stats.auth_failed_count,
        "non_mtlsremote_conn_count": 0,
        "non_mtlslocal_conn_count": 0,
    }


def _srvr(ctx: AdminContext, params: Params) -> dict[str, object]:
    fl = ctx.four_letter
    out: dict[str, object] = {
        "version": ZOOKEEPER_VERSION,
        "read_only": fl.mode() == "read-only",
        "server_stats": _server_stats(ctx),
        "client_response": _buffer_stats(_client_response(ctx)),
    }
    quorum = _quorum(ctx)
    if fl.mode() == "leader" and quorum is not None:
        out["proposal_stats"] = _buffer_stats(quorum.proposal_sizes)
    out["node_count"] = fl.server.tree.node_count
    return out


def _stat(ctx: AdminContext, params: Params) -> dict[str, object]:
    out = _srvr(ctx, params)
    out.update(_connections(ctx.four_letter, brief=True))
    return out


def _srst(ctx: AdminContext, params: Params) -> dict[str, object]:
    ctx.four_letter.server.stats.reset()
    # ServerStats.reset also resets the provider's values; the Prometheus provider ignores it.
    if ctx.metrics is not None and ctx.prometheus is None:
        ctx.metrics.reset()
    return {}


def system_properties(ctx: FourLetterContext) -> dict[str, str]:
    """The JVM's standard properties that have a Python counterpart, and zookeeper.<key> for
    each zoo.cfg key ZooKeeper would have made a system property; sorted, like TreeMap."""
    props = {key: value for key, value in environment()
             if key.split(".")[0] in ("java", "os", "user") and not key.startswith("os.memory")
             and value != "<NA>"}
    props.update({
        "file.encoding": sys.getfilesystemencoding().upper(),
        "file.separator": os.sep,
        "line.separator": os.linesep,
        "path.separator": os.pathsep,
        "sun.java.command": " ".join(sys.argv),
    })
    props.update({f"zookeeper.{key}": value for key, value in ctx.config.extra.items()})
    return dict(sorted(props.items()))


def _sysp(ctx: AdminContext, params: Params) -> dict[str, object]:
    return dict(system_properties(ctx.four_letter))


def _voting_view(ctx: AdminContext, params: Params) -> dict[str, object]:
    quorum = _quorum(ctx)
    if quorum is None:
        return {"current_config": {}}
    view: dict[int, object] = {}
    for sid, member in sorted(quorum.members().items()):
        if member.role is not LearnerType.PARTICIPANT:
            continue
        client = ""
        if member.client_port is not None:
            client = _host_port(member.client_host or "0.0.0.0", member.client_port)
        view[sid] = {
            "server_addresses": [_host_port(member.host, member.quorum_port)],
            "election_addresses": [_host_port(member.host, member.election_port)],
            "client_address": client,
            "learner_type": str(member.role),
        }
    return {"current_config": view}


def _watches(ctx: AdminContext, params: Params) -> dict[str, object]:
    by_watcher = ctx.four_letter.server.tree.data_watches.by_watcher()
    sessions: dict[int, list[str]] = {}
    for watcher, paths in by_watcher.items():
        sessions.setdefault(getattr(watcher, "session_id", 0), []).extend(paths)
    return {"session_id_to_watched_paths": {s: sorted(sessions[s]) for s in sorted(sessions)}}


def _watches_by_path(ctx: AdminContext, params: Params) -> dict[str, object]:
    by_path = ctx.four_letter.server.tree.data_watches.by_path()
    return {"path_to_session_ids": {
        path: sorted(getattr(w, "session_id", 0) for w in by_path[path]) for path in sorted(by_path)
    }}


def _watch_summary(ctx: AdminContext, params: Params) -> dict[str, object]:
    watches = ctx.four_letter.server.tree.data_watches
    by_watcher = watches.by_watcher()
    return {"num_connections": len(by_watcher), "num_paths": len(watches.by_path()),
            "num_total_watches": sum(len(paths) for paths in by_watcher.values())}


def _multiple_addresses(host: str, port: int) -> dict[str, object]:
    """MultipleAddresses as Jackson serialises the bean (every public getter, in the order
    ZooKeeper 3.8 prints them), for one address."""
    one = _host_port(host, port)
    return {
        "empty": False,
        "all_addresses": [one],
        "all_reachable_addresses": [one],
        "one": one,
        "reachable_address": one,
        "wildcard_addresses": [f"0.0.0.0:{port}"],
        "all_ports": [port],
        "all_host_strings": [host],
        "all_reachable_addresses_or_all": [one],
        "reachable_or_one": one,
    }


def _zabstate(ctx: AdminContext, params: Params) -> dict[str, object]:
    quorum = _quorum(ctx)
    fl = ctx.four_letter
    if quorum is None:
        return {"voting": False, "zabstate": ""}
    cfg = fl.config
    my_id = cfg.server_id or 0
    me = quorum.members().get(my_id) or cfg.servers.get(my_id)
    client: str | None = None
    if me is not None and me.client_port is not None:
        client = _host_port(me.client_host or "0.0.0.0", me.client_port)
    elif cfg.client_port is not None:
        client = _host_port(cfg.client_port_address or "0.0.0.0", cfg.client_port)
    zxid = fl.server.last_zxid
    return {
        "myid": my_id,
        "is_leader": fl.mode() == "leader",
        "quorum_address": _multiple_addresses(me.host, me.quorum_port) if me else None,
        "election_address": _multiple_addresses(me.host, me.election_port) if me else None,
        "client_address": client,
        "voting": me is not None and me.role is LearnerType.PARTICIPANT,
        "last_zxid": f"0x{zxid & ((1 << 64) - 1):x}",
        "zab_epoch": zxid >> 32,
        "zab_counter": zxid & 0xFFFFFFFF,
        "zabstate": quorum.zab_state.lower(),
    }


COMMANDS: tuple[Command, ...] = (
    Command(("connection_stat_reset", "crst"), _crst),
    Command(("configuration", "conf", "config"), _conf),
    Command(("connections", "cons"), _cons),
    Command(("hash",), _hash),
    Command(("dirs",), _dirs),
    Command(("dump",), _dump),
    Command(("environment", "env", "envi"), _envi, server_required=False),
    Command(("get_trace_mask", "gtmk"), _gtmk, server_required=False),
    Command(("initial_configuration", "icfg"), _icfg),
    Command(("is_read_only", "isro"), _isro),
    Command(("last_snapshot", "lsnp"), _lsnp),
    Command(("leader", "lead"), _lead),
    Command(("monitor", "mntr"), _mntr),
    Command(("observer_connection_stat_reset", "orst"), _orst),
    Command(("ruok",), _ruok),
    Command(("set_trace_mask", "stmk"), _stmk, server_required=False),
    Command(("server_stats", "srvr"), _srvr),
    Command(("stats", "stat"), _stat),
    Command(("stat_reset", "srst"), _srst),
    Command(("observers", "obsr"), _obsr),
    Command(("system_properties", "sysp"), _sysp, server_required=False),
    Command(("voting_view",), _voting_view),
    Command(("watches", "wchc"), _watches),
    Command(("watches_by_path", "wchp"), _watches_by_path),
    Command(("watch_summary", "wchs"), _watch_summary),
    Command(("zabstate",), _zabstate, server_required=False),
)
BY_NAME: dict[str, Command] = {name: c for c in COMMANDS for name in c.names}


def primary_names() -> list[str]:
    """What `/commands` lists, sorted as JettyAdminServer.commandLinks sorts them."""
    return sorted(c.primary for c in COMMANDS)


def run_command(name: str, ctx: AdminContext, params: Params | None = None) -> dict[str, object]:
    """Commands.runCommand, then CommandResponse.toMap."""
    command = BY_NAME.get(name)
    if command is None:
        return {"command": name, "error": f"Unknown command: {name}"}
    if command.server_required and not _serving(ctx.four_letter):
        return {"command": name, "error": NOT_SERVING_ERROR}
    out = command.run(ctx, params or {})
    out.setdefault("command", command.primary)
    out.setdefault("error", None)
    return out
