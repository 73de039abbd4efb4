"""zoo.cfg: ZooKeeper's keys, syntax and defaults, read into one frozen ServerConfig.

Theory of operation
-------------------
Apache ZooKeeper reads zoo.cfg in two steps, and so does this module:

1. ``zkpy.server.properties`` splits the text as ``java.util.Properties.load`` does, and trims
   keys and values as ZooKeeper does. A repeated key keeps its last value.
2. ``_Parser`` folds the entries into typed fields, key by key, then applies the cross-key rules
   in the order of ``QuorumPeerConfig.parseProperties`` / ``setupQuorumPeerConfig``: snapRetainCount
   clamp, dataDir required, clientPort/clientPortAddress, tickTime, session timeout bounds, the
   server list (``parseDynamicConfig``), the client address from ``server.<myid>``, the peer type
   from the server list, and the quorum-only requirements (initLimit, syncLimit, myid).

Keys ZooKeeper parses itself are checked as it checks them. Keys it only copies into a
``zookeeper.<key>`` system property (snapCount, 4lw.commands.whitelist, admin.*, ...) are read
the way the class that consumes that property reads them. Every key without a typed field is
kept verbatim in ``ServerConfig.extra``; ``unimplemented_keys()`` names the ones ZooKeeper knows.

Deliberate differences, each because zkpy has no JVM or because silence would hide a mistake:
- ``jute.maxbuffer``, ``readonlymode.enabled`` and ``zookeeper.extendedTypesEnabled`` are JVM
  flags in ZooKeeper; zkpy takes them from zoo.cfg.
- A malformed value of a system-property key is an error (ZooKeeper falls back to the default),
  booleans must be true/false (yes/no for forceSync and skipACL), and two ``server.N`` lines
  naming the same id are an error (Properties would keep one at random).
- Text is decoded as UTF-8, falling back to ISO-8859-1 (Properties always uses ISO-8859-1).
- Host names are never resolved: the client address of ``server.<myid>`` and clientPortAddress
  are compared by port, and by address only when both are IP literals.
- ``zkpy.logLevel`` and ``zkpy.logFormat`` are zkpy's own keys (the log level and format, see
  zkpy.server.logs); ZooKeeper keeps them as system properties nothing reads.
Errors are ``ConfigError`` naming file, line and key. Relative paths stay relative: like
ZooKeeper's ``java.io.File``, they refer to the working directory of the process.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from zkpy.server.logs import LOG_FORMATS, LOG_LEVELS
from zkpy.server.properties import (
    JAVA_TRIMMED,
    Property,
    PropertiesSyntaxError,
    decode_properties,
    parse_java_int,
    read_properties,
)
from zkpy.server.server_spec import LearnerType, QuorumServer, parse_learner_type, parse_server_spec

__all__ = [
    "ACTED_ON_EXTRA",
    "ConfigError",
    "LearnerType",
    "QuorumServer",
    "ServerConfig",
    "load_config",
    "parse_config",
    "read_config_text",
    "read_myid",
]

DEFAULT_TICK_TIME_MS = 3000
MIN_SNAP_RETAIN_COUNT = 3
MIN_SNAP_COUNT = 2
DEFAULT_METRICS_PROVIDER = "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider"
ZKPY_PROMETHEUS_PROVIDER = "zkpy.metrics.prometheus"
"""zkpy's own name for the Prometheus endpoint (the same as PrometheusMetricsProvider's)."""
PROMETHEUS_METRICS_PROVIDER = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
SNAPSHOT_COMPRESSION_METHODS = ("", "gz", "snappy")
MAX_SERVER_ID_WITH_EXTENDED_TYPES = 254

TELNET_CLOSE = "telnet close"
"""The name ZooKeeper gives the telnet close sequence 0xfff4fffd in its command table."""
KNOWN_FOUR_LETTER_WORDS = frozenset(
    {"conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srst", "srvr",
     "stat", "wchc", "wchp", "wchs", "mntr", "isro", "hash", TELNET_CLOSE}
)
"""The 19 entries of FourLetterCommands' table: what ``4lw.commands.whitelist=*`` enables."""


class ConfigError(Exception):
    """An invalid configuration; the message reads ``<file>:<line>: <key>: <reason>``."""

    def __init__(
        self, source: str, reason: str, *, key: str | None = None, line: int | None = None
    ) -> None:
        self.source = source
        self.reason = reason
        self.key = key
        self.line = line
        location = source if line is None else f"{source}:{line}"
        super().__init__(f"{location}: {key}: {reason}" if key else f"{location}: {reason}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfig:
    """Everything zoo.cfg (and dataDir/myid, and a dynamicConfigFile) says, with ZK's defaults."""

    data_dir: Path
    data_log_dir: Path
    tick_time_ms: int = DEFAULT_TICK_TIME_MS
    client_port: int | None = None
    client_port_address: str | None = None
    """None: every local address, as ZooKeeper does when clientPortAddress is absent."""
    max_client_cnxns: int = 60
    min_session_timeout_ms: int = -1
    """-1: 2 x tick; see effective_min_session_timeout_ms."""
    max_session_timeout_ms: int = -1
    """-1: 20 x tick; see effective_max_session_timeout_ms."""
    init_limit: int = 0
    """In ticks; 0 means unset, which only a quorum member rejects."""
    sync_limit: int = 0
    connect_to_learner_master_limit: int = 0
    """In ticks; 0 means unset (ZooKeeper then uses initLimit)."""
    server_id: int | None = None
    """From dataDir/myid; None when the file is absent (fine for a standalone server)."""
    servers: Mapping[int, QuorumServer] = field(default_factory=lambda: MappingProxyType({}))
    config_version: int = 0
    """The quorum config version (the ``version`` key, hex; or the dynamic file's suffix)."""
    dynamic_config_file: Path | None = None
    peer_type: LearnerType = LearnerType.PARTICIPANT
    quorum_listen_on_all_ips: bool = False
    sync_enabled: bool = True
    standalone_enabled: bool = True
    reconfig_enabled: bool = False
    local_sessions_enabled: bool = False
    local_sessions_upgrading_enabled: bool = False
    autopurge_snap_retain_count: int = MIN_SNAP_RETAIN_COUNT
    autopurge_purge_interval_hours: int = 0
    """0 (or less) disables the purge task."""
    four_letter_words: frozenset[str] = frozenset({"srvr"})
    snap_count: int = 100_000
    pre_alloc_size_kb: int = 65_536
    global_outstanding_limit: int = 1000
    jute_max_buffer: int = 0xFFFFF
    force_sync: bool = True
    admin_enable_server: bool = True
    admin_server_address: str = "0.0.0.0"
    admin_server_port: int = 8080
    metrics_provider_class_name: str = DEFAULT_METRICS_PROVIDER
    metrics_provider_http_host: str = "0.0.0.0"
    metrics_provider_http_port: int = 7000
    extended_types_enabled: bool = False
    super_digest: str | None = None
    """``super:<base64 sha1>``, from DigestAuthenticationProvider.superDigest."""
    snapshot_compression_method: str = ""
    digest_enabled: bool = True
    skip_acl: bool = False
    readonly_mode_enabled: bool = False
    log_level: str | None = None
    """zkpy.logLevel, upper-cased; --log-level/ZKPY_LOG_LEVEL win over it (zkpy.server.logs)."""
    log_format: str | None = None
    """zkpy.logFormat, lower-cased; --log-format/ZKPY_LOG_FORMAT win over it."""
    extra: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Every key without a typed field, verbatim (ZooKeeper turns them into zookeeper.<key>)."""
    warnings: tuple[str, ...] = ()
    """What ZooKeeper would log as a warning while parsing; the server logs these once."""

    @property
    def effective_min_session_timeout_ms(self) -> int:
        if self.min_session_timeout_ms == -1:
            return 2 * self.tick_time_ms
        return self.min_session_timeout_ms

    @property
    def effective_max_session_timeout_ms(self) -> int:
        if self.max_session_timeout_ms == -1:
            return 20 * self.tick_time_ms
        return self.max_session_timeout_ms

    @property
    def voting_members(self) -> Mapping[int, QuorumServer]:
        return {s: q for s, q in self.servers.items() if q.role is LearnerType.PARTICIPANT}

    @property
    def is_distributed(self) -> bool:
        """True runs a quorum peer, False a standalone server (QuorumPeerConfig.isDistributed)."""
        return not self.standalone_enabled or len(self.voting_members) > 1

    def unimplemented_keys(self) -> tuple[str, ...]:
        """Keys of ``extra`` that Apache ZooKeeper acts on and zkpy does not (yet)."""
        return tuple(k for k in sorted(self.extra) if _is_known_key(k) and k not in ACTED_ON_EXTRA)

    def unknown_keys(self) -> tuple[str, ...]:
        """Keys of ``extra`` that no ZooKeeper component reads: most likely typos."""
        return tuple(k for k in sorted(self.extra) if not _is_known_key(k))


# --- value converters ---------------------------------------------------------------------------


def _at_least(minimum: int) -> Callable[[str], int]:
    def convert(value: str) -> int:
        number = parse_java_int(value)
        if number < minimum:
            raise ValueError(f"{value!r} must be at least {minimum}")
        return number

    return convert


def _port(value: str) -> int:
    number = parse_java_int(value)
    if not 0 <= number <= 65535:
        raise ValueError(f"{value!r} is not a port number (0-65535)")
    return number


def _boolean(value: str) -> bool:
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"{value!r} is not 'true' or 'false'")


def _yes_no(value: str) -> bool:
    if value in ("yes", "no"):
        return value == "yes"
    raise ValueError(f"{value!r} is not 'yes' or 'no'")


def _text(value: str) -> str:
    return value


def _path(value: str) -> Path:
    if not value:
        raise ValueError("must not be empty")
    return Path(value)


def _election_alg(value: str) -> int:
    if parse_java_int(value) != 3:
        raise ValueError("Invalid electionAlg value. Only 3 is supported.")
    return 3


def _hex_version(value: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9a-fA-F]+", value):
        raise ValueError(f"{value!r} is not a hexadecimal number")
    return int(value, 16)


def _compression(value: str) -> str:
    if value not in SNAPSHOT_COMPRESSION_METHODS:
        raise ValueError(f"{value!r} is not one of '', 'gz', 'snappy'")
    return value


def _one_of(choices: tuple[str, ...], normalize: Callable[[str], str]) -> Callable[[str], str]:
    def convert(value: str) -> str:
        if normalize(value) not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
        return normalize(value)

    return convert


def _metrics_provider(value: str) -> str:
    if value not in (DEFAULT_METRICS_PROVIDER, PROMETHEUS_METRICS_PROVIDER, ZKPY_PROMETHEUS_PROVIDER):
        raise ValueError(f"metrics provider class was not found: {value!r}")
    return value


# zoo.cfg key -> (ServerConfig field, converter). Aliases share a field; the later line wins.
_FIELDS: dict[str, tuple[str, Callable[[str], object]]] = {
    "dataDir": ("data_dir", _path),
    "dataLogDir": ("data_log_dir", _path),
    "clientPort": ("client_port", _port),
    "clientPortAddress": ("client_port_address", _text),
    "tickTime": ("tick_time_ms", parse_java_int),
    "maxClientCnxns": ("max_client_cnxns", parse_java_int),
    "minSessionTimeout": ("min_session_timeout_ms", parse_java_int),
    "maxSessionTimeout": ("max_session_timeout_ms", parse_java_int),
    "initLimit": ("init_limit", parse_java_int),
    "syncLimit": ("sync_limit", parse_java_int),
    "connectToLearnerMasterLimit": ("connect_to_learner_master_limit", parse_java_int),
    "quorumListenOnAllIPs": ("quorum_listen_on_all_ips", _boolean),
    "peerType": ("peer_type", parse_learner_type),
    "syncEnabled": ("sync_enabled", _boolean),
    "dynamicConfigFile": ("dynamic_config_file", _path),
    "autopurge.snapRetainCount": ("autopurge_snap_retain_count", parse_java_int),
    "autopurge.purgeInterval": ("autopurge_purge_interval_hours", parse_java_int),
    "standaloneEnabled": ("standalone_enabled", _boolean),
    "reconfigEnabled": ("reconfig_enabled", _boolean),
    "localSessionsEnabled": ("local_sessions_enabled", _boolean),
    "localSessionsUpgradingEnabled": ("local_sessions_upgrading_enabled", _boolean),
    "metricsProvider.className": ("metrics_provider_class_name", _metrics_provider),
    "metricsProvider.httpHost": ("metrics_provider_http_host", _text),
    "metricsProvider.httpPort": ("metrics_provider_http_port", _port),
    "4lw.commands.whitelist": ("four_letter_words", _text),
    "snapCount": ("snap_count", parse_java_int),
    "preAllocSize": ("pre_alloc_size_kb", _at_least(0)),
    "globalOutstandingLimit": ("global_outstanding_limit", _at_least(0)),
    "jute.maxbuffer": ("jute_max_buffer", _at_least(1)),
    "forceSync": ("force_sync", _yes_no),
    "skipACL": ("skip_acl", _yes_no),
    "admin.enableServer": ("admin_enable_server", _boolean),
    "admin.serverAddress": ("admin_server_address", _text),
    "admin.serverPort": ("admin_server_port", _port),
    "extendedTypesEnabled": ("extended_types_enabled", _boolean),
    "zookeeper.extendedTypesEnabled": ("extended_types_enabled", _boolean),
    "DigestAuthenticationProvider.superDigest": ("super_digest", _text),
    "zookeeper.DigestAuthenticationProvider.superDigest": ("super_digest", _text),
    "snapshot.compression.method": ("snapshot_compression_method", _compression),
    "digest.enabled": ("digest_enabled", _boolean),
    "readonlymode.enabled": ("readonly_mode_enabled", _boolean),
    # zkpy's own keys (ZooKeeper keeps them as unused system properties).
    "zkpy.logLevel": ("log_level", _one_of(LOG_LEVELS, str.upper)),
    "zkpy.logFormat": ("log_format", _one_of(LOG_FORMATS, str.lower)),
}

# Keys ZooKeeper parses itself that zkpy keeps in `extra`: checked as QuorumPeerConfig checks them.
_CHECKED_EXTRA: dict[str, Callable[[str], object]] = {
    "secureClientPort": _port,
    "observerMasterPort": parse_java_int,
    "clientPortListenBacklog": parse_java_int,
    "sslQuorum": _boolean,
    "portUnification": _boolean,
    "sslQuorumReloadCertFiles": _boolean,
    "quorum.auth.enableSasl": _boolean,
    "quorum.auth.serverRequireSasl": _boolean,
    "quorum.auth.learnerRequireSasl": _boolean,
    "quorum.cnxn.threads.size": parse_java_int,
    "multiAddress.enabled": _boolean,
    "multiAddress.reachabilityCheckEnabled": _boolean,
    "multiAddress.reachabilityCheckTimeoutMs": parse_java_int,
    "jvm.pause.monitor": _boolean,
    "jvm.pause.info-threshold.ms": lambda v: parse_java_int(v, 64),
    "jvm.pause.warn-threshold.ms": lambda v: parse_java_int(v, 64),
    "jvm.pause.sleep.time.ms": lambda v: parse_java_int(v, 64),
}

# Keys kept verbatim in `extra` that zkpy's runtime reads where it uses them (TLS set-up, the
# election, the AdminServer, the reaper, ...): not reported as unimplemented.
ACTED_ON_EXTRA = frozenset(
    """secureClientPort secureClientPortAddress clientPortListenBacklog ssl.clientAuth
    ssl.keyStore.location ssl.keyStore.password ssl.keyStore.type ssl.trustStore.location
    ssl.trustStore.password ssl.trustStore.type admin.commandURL admin.idleTimeout
    metricsProvider.exportJvmInfo fsync.warningthresholdms snapshot.trust.empty cnxTimeout
    quorumCnxnTimeoutMs fastleader.minNotificationInterval fastleader.maxNotificationInterval
    znode.container.checkIntervalMs znode.container.maxPerMinute
    znode.container.maxNeverUsedIntervalMs""".split()
)

# zoo.cfg spellings of the keys ZooKeeper 3.9 reads (zookeeperAdmin.md, QuorumPeerConfig).
_KNOWN_KEYS = frozenset(_CHECKED_EXTRA) | frozenset(
    """secureClientPortAddress oraclePath maxCnxns snapSizeLimitInKb txnLogSizeLimitInKb
    commitLogCount fsync.warningthresholdms leaderServes cnxTimeout quorumCnxnTimeoutMs
    electionPortBindRetry maxTimeToWaitForEpoch admin.idleTimeout admin.commandURL
    admin.portUnification admin.forceHttps admin.needClientAuth admin.snapshot.enabled
    admin.restore.enabled admin.rateLimiterIntervalInMS snapshot.trust.empty serverCnxnFactory
    requireClientAuthScheme enforce.auth.enabled enforce.auth.schemes sessionRequireClientSASLAuth
    znode.container.checkIntervalMs znode.container.maxPerMinute
    znode.container.maxNeverUsedIntervalMs watchManagerName watcherCleanThreshold
    watcherCleanIntervalInSeconds watcherCleanThreadsNum maxInProcessingDeadWatchers
    bitHashCacheSize flushDelay maxWriteQueuePollTime maxBatchSize requestThrottleLimit
    requestThrottleStallTime requestThrottleDropStale requestStaleLatencyCheck
    requestStaleConnectionCheck largeRequestMaxBytes largeRequestThreshold learner.asyncSending
    learner.closeSocketAsync leader.closeSocketAsync
    forward_learner_requests_to_commit_processor_disabled audit.enable audit.impl.class
    fastleader.minNotificationInterval fastleader.maxNotificationInterval emulate353TTLNodes
    enableEagerACLCheck enforceQuota maxConcurrentSnapSyncs maxConcurrentDiffSyncs
    throttledOpWaitTime outstandingHandshake.limit clientTcpKeepAlive tcpKeepAlive
    advancedFlowControlEnabled maxResponseCacheSize maxGetChildrenResponseCacheSize
    serializeLastProcessedZxid.enabled closeSessionTxn.enabled jute.maxbuffer.extrasize
    netty.server.earlyDropSecureConnectionHandshakes client.portUnification client.certReload
    observer.election.DelayMs observer.reconnectDelayMs fips-mode datadir.autocreate
    DigestAuthenticationProvider.digestAlg DigestAuthenticationProvider.enabled
    IPAuthenticationProvider.usexforwardedfor X509AuthenticationProvider.superUser
    kerberos.canonicalizeHostNames kerberos.removeHostFromPrincipal
    kerberos.removeRealmFromPrincipal connectionMaxTokens connectionTokenFillTime
    connectionTokenFillCount connectionFreezeTime connectionDropIncrease connectionDropDecrease
    connectionDecreaseRatio superUser ensembleAuthName commitProcessor.maxCommitBatchSize
    commitProcessor.maxReadBatchSize commitProcessor.numWorkerThreads
    connection_throttle_global_session_weight connection_throttle_local_session_weight
    connection_throttle_renew_session_weight connection_throttle_weight_enabled
    follower.skipLearnerRequestToNextProcessor messageTracker.BufferSize messageTracker.Enabled
    nio.numSelectorThreads nio.numWorkerThreads nio.sessionlessCnxnTimeout nio.directBufferBytes
    nio.shutdownTimeout request_throttler.shutdownTimeout""".split()
)
_KNOWN_PREFIXES = ("ssl.", "authProvider.", "quorum.auth.", "jvm.pause.", "metricsProvider.",
                   "multiAddress.", "group", "weight")


def _is_known_key(key: str) -> bool:
    return key in _KNOWN_KEYS or key.startswith(_KNOWN_PREFIXES)


# --- the parser ---------------------------------------------------------------------------------


class _Parser:
    """Folds entries into ServerConfig fields, then applies QuorumPeerConfig's cross-key rules."""

    def __init__(self, source: str, server_id: int | None) -> None:
        self.source = source
        self.values: dict[str, object] = {"server_id": server_id}
        self.origin: dict[str, tuple[str, Property]] = {}  # field or extra key -> (file, entry)
        self.extra: dict[str, str] = {}
        self.server_entries: dict[str, tuple[str, Property]] = {}
        self.warnings: list[str] = []

    def error(self, reason: str, at: str | None = None) -> ConfigError:
        if at in self.origin:
            source, entry = self.origin[at]
            return ConfigError(source, reason, key=entry.key, line=entry.line)
        return ConfigError(self.source, reason)

    def warn(self, reason: str, at: str | None = None) -> None:
        self.warnings.append(str(self.error(reason, at)))

    def convert(self, entry: Property, converter: Callable[[str], object], source: str) -> object:
        try:
            return converter(entry.value)
        except ValueError as error:
            raise ConfigError(source, str(error), key=entry.key, line=entry.line) from None

    def read_static(self, entries: Iterable[Property]) -> None:
        for entry in entries:
            if entry.key in _FIELDS:
                attr, converter = _FIELDS[entry.key]
                self.values[attr] = self.convert(entry, converter, self.source)
                self.origin[attr] = (self.source, entry)
            elif entry.key == "electionAlg":
                self.convert(entry, _election_alg, self.source)
            elif entry.key.startswith("server."):
                self.server_entries[entry.key] = (self.source, entry)
                self.origin[entry.key] = (self.source, entry)
            else:
                if entry.key in _CHECKED_EXTRA:
                    self.convert(entry, _CHECKED_EXTRA[entry.key], self.source)
                self.extra[entry.key] = entry.value
                self.origin[entry.key] = (self.source, entry)
        if "dynamic_config_file" in self.values:
            for key in [*self.server_entries, *self.extra]:
                if key.startswith(("server.", "group", "weight")):
                    raise self.error(
                        f"parameter: {key} must be in a separate dynamic config file", key
                    )
        elif "version" in self.extra:
            source, entry = self.origin["version"]
            self.values["config_version"] = self.convert(entry, _hex_version, source)
            del self.extra["version"]

    def read_dynamic(self, entries: Iterable[Property], source: str) -> None:
        for entry in entries:
            if entry.key == "version":
                raise ConfigError(source, "dynamic file shouldn't have version inside",
                                  key=entry.key, line=entry.line)
            if entry.key.startswith("server."):
                self.server_entries[entry.key] = (source, entry)
            elif entry.key.startswith(("group", "weight")):
                self.extra[entry.key] = entry.value
                self.origin[entry.key] = (source, entry)
            else:
                raise ConfigError(source, f"Unrecognised parameter: {entry.key}",
                                  key=entry.key, line=entry.line)
        suffix = source.rpartition(".")[2]
        hex_suffix = re.fullmatch(r"[0-9a-fA-F]+", suffix)
        self.values["config_version"] = int(suffix, 16) if hex_suffix else 0

    def build(self) -> ServerConfig:
        self.check_scalars()
        servers = self.parse_servers()
        self.values["servers"] = MappingProxyType(dict(sorted(servers.items())))
        self.check_quorum(servers)
        self.check_unsupported()
        self.values["four_letter_words"] = self.four_letter_words()
        self.values["extra"] = MappingProxyType(dict(self.extra))
        self.values["warnings"] = tuple(self.warnings)
        return ServerConfig(**self.values)  # type: ignore[arg-type]

    def check_scalars(self) -> None:
        values = self.values
        retain = values.get("autopurge_snap_retain_count", MIN_SNAP_RETAIN_COUNT)
        if isinstance(retain, int) and retain < MIN_SNAP_RETAIN_COUNT:
            self.warn(f"Invalid autopurge.snapRetainCount: {retain}. Defaulting to "
                      f"{MIN_SNAP_RETAIN_COUNT}", "autopurge_snap_retain_count")
            values["autopurge_snap_retain_count"] = MIN_SNAP_RETAIN_COUNT
        snap_count = values.get("snap_count", MIN_SNAP_COUNT)
        if isinstance(snap_count, int) and snap_count < MIN_SNAP_COUNT:
            self.warn(f"SnapCount should be {MIN_SNAP_COUNT} or more. Now, snapCount is reset "
                      f"to {MIN_SNAP_COUNT}", "snap_count")
            values["snap_count"] = MIN_SNAP_COUNT
        if "data_dir" not in values:
            raise self.error("dataDir is not set")
        values.setdefault("data_log_dir", values["data_dir"])
        for attr in ("data_dir", "data_log_dir"):
            if attr in self.origin:
                raw = self.origin[attr][1].value
                if not Path(raw).is_absolute() and not raw.startswith("./"):
                    self.warn(f"{raw} is relative. Prepend ./ to indicate that you're sure!", attr)
        if values.get("client_port", 0) == 0:
            values["client_port"] = None
            if "client_port_address" in values:
                raise self.error("clientPortAddress is set but clientPort is not set",
                                 "client_port_address")
        if "secureClientPortAddress" in self.extra \
                and parse_java_int(self.extra.get("secureClientPort", "0")) == 0:
            raise self.error("secureClientPortAddress is set but secureClientPort is not set",
                             "secureClientPortAddress")
        tick = values.get("tick_time_ms", DEFAULT_TICK_TIME_MS)
        assert isinstance(tick, int)
        if tick == 0:
            raise self.error("tickTime is not set", "tick_time_ms")
        if tick < 0:
            raise self.error(f"tickTime must be positive, not {tick}", "tick_time_ms")
        low = values.get("min_session_timeout_ms", -1)
        high = values.get("max_session_timeout_ms", -1)
        assert isinstance(low, int) and isinstance(high, int)
        low = 2 * tick if low == -1 else low
        high = 20 * tick if high == -1 else high
        if low > high:
            explicit = "min_session_timeout_ms" in self.origin
            raise self.error(
                "minSessionTimeout must not be larger than maxSessionTimeout "
                f"({low} ms > {high} ms)",
                "min_session_timeout_ms" if explicit else "max_session_timeout_ms",
            )

    def parse_servers(self) -> dict[int, QuorumServer]:
        multi_address = self.extra.get("multiAddress.enabled", "false").lower() == "true"
        servers: dict[int, QuorumServer] = {}
        for key, (source, entry) in self.server_entries.items():
            try:
                sid = parse_java_int(key[len("server."):], 64)
                server = parse_server_spec(sid, entry.value, multi_address_enabled=multi_address)
            except ValueError as error:
                raise ConfigError(source, str(error), key=key, line=entry.line) from None
            if sid in servers:
                raise ConfigError(source, f"server id {sid} is given twice", key=key,
                                  line=entry.line)
            servers[sid] = server
        return servers

    def check_unsupported(self) -> None:
        """Refuse what would run with weaker guarantees than the operator asked for: votes not
        weighed as groups/weights say, quorum traffic unencrypted or unauthenticated."""
        for key in self.extra:
            if key.startswith(("group", "weight")):
                raise self.error("hierarchical quorums (group.N/weight.N) are not supported by zkpy", key)
        for key in ("sslQuorum", "quorum.auth.enableSasl"):
            if key in self.extra and self.extra[key].strip().lower() == "true":
                raise self.error(f"{key}=true is not supported by zkpy: its quorum traffic is "
                                 "neither encrypted nor authenticated", key)

    def check_quorum(self, servers: dict[int, QuorumServer]) -> None:
        values = self.values
        voting = [s for s in servers.values() if s.role is LearnerType.PARTICIPANT]
        observers = len(servers) - len(voting)
        standalone_enabled = values.get("standalone_enabled", True)
        if not voting:
            if not standalone_enabled:
                raise self.error("standaloneEnabled = false then number of participants should "
                                 "be >0", "standalone_enabled")
            if observers:
                raise self.error("Observers w/o participants is an invalid configuration")
        elif len(voting) == 1 and standalone_enabled:
            self.warn("Invalid configuration, only one server specified (ignoring)")
            if observers:
                raise self.error("Observers w/o quorum is an invalid configuration")
        elif len(voting) <= 2:
            self.warn("No server failure will be tolerated. You need at least 3 servers.")
        elif len(voting) % 2 == 0:
            self.warn("Non-optimal configuration, consider an odd number of servers.")

        server_id = values["server_id"]
        own = servers.get(server_id) if isinstance(server_id, int) else None
        if own is not None and own.client_port is not None:
            self.check_client_address(own)
            values["client_port"] = own.client_port
            values["client_port_address"] = own.client_host
        role = own.role if own is not None else LearnerType.PARTICIPANT
        configured_role = values.get("peer_type", LearnerType.PARTICIPANT)
        if role is not configured_role:
            self.warn(f"Peer type from servers list ({role}) doesn't match peerType "
                      f"({configured_role}). Defaulting to servers list.", "peer_type")
            values["peer_type"] = role

        if not standalone_enabled or len(voting) > 1:
            for attr, key in (("init_limit", "initLimit"), ("sync_limit", "syncLimit")):
                if values.get(attr, 0) == 0:
                    raise self.error(f"{key} is not set", attr)
            if server_id is None:
                raise self.error("myid file is missing")
        if values.get("extended_types_enabled") and isinstance(server_id, int) \
                and not 0 <= server_id <= MAX_SERVER_ID_WITH_EXTENDED_TYPES:
            raise self.error(f"server id {server_id} must be at most "
                             f"{MAX_SERVER_ID_WITH_EXTENDED_TYPES} when extended types are "
                             "enabled", "extended_types_enabled")

    def check_client_address(self, own: QuorumServer) -> None:
        static_port = self.values.get("client_port")
        if static_port is None:
            return
        static_host = self.values.get("client_port_address")
        conflict = static_port != own.client_port
        if isinstance(static_host, str) and own.client_host is not None:
            conflict = conflict or _different_ip_literals(static_host, own.client_host)
        if conflict:
            raise self.error(
                f"client address for this server (id = {own.sid}) in static config file is "
                f"{static_host or '0.0.0.0'}:{static_port} is different from client address "
                f"found in dynamic file: {own.client_host or '0.0.0.0'}:{own.client_port}",
                "client_port",
            )

    def four_letter_words(self) -> frozenset[str]:
        enabled: set[str] = set()
        whitelist = self.values.get("four_letter_words")
        if isinstance(whitelist, str):
            for item in whitelist.split(","):
                name = item.strip(JAVA_TRIMMED)
                if name == "*":
                    enabled |= KNOWN_FOUR_LETTER_WORDS
                    break
                if name:
                    enabled.add(name)
            for name in sorted(enabled - KNOWN_FOUR_LETTER_WORDS):
                self.warn(f"{name!r} is not a four letter word command", "four_letter_words")
        if self.values.get("readonly_mode_enabled"):
            enabled.add("isro")
        enabled.add("srvr")
        return frozenset(enabled)


def _different_ip_literals(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a.strip("[]")) != ipaddress.ip_address(b.strip("[]"))
    except ValueError:
        return False


# --- entry points -------------------------------------------------------------------------------


def parse_config(
    text: str,
    source: str,
    *,
    server_id: int | None = None,
    dynamic_text: tuple[str, str] | None = None,
) -> ServerConfig:
    """Parse zoo.cfg text. ``server_id`` stands for dataDir/myid and ``dynamic_text`` for the
    ``(text, source)`` of the dynamicConfigFile; no file is read."""
    parser = _Parser(source, server_id)
    parser.read_static(_entries(text, source))
    if "dynamic_config_file" in parser.values:
        if dynamic_text is None:
            raise parser.error("the dynamic config file was not given", "dynamic_config_file")
        parser.read_dynamic(_entries(*dynamic_text), dynamic_text[1])
    return parser.build()


def load_config(path: Path) -> ServerConfig:
    """Read zoo.cfg at ``path``, plus dataDir/myid and the dynamicConfigFile it names."""
    source = str(path)
    text = read_config_text(path)
    raw = {entry.key: entry.value for entry in _entries(text, source)}
    server_id = read_myid(Path(raw["dataDir"])) if raw.get("dataDir") else None
    dynamic_text = None
    if raw.get("dynamicConfigFile"):
        dynamic_path = Path(raw["dynamicConfigFile"])
        dynamic_text = (read_config_text(dynamic_path), str(dynamic_path))
    return parse_config(text, source, server_id=server_id, dynamic_text=dynamic_text)


def read_myid(data_dir: Path) -> int | None:
    """The server id in ``data_dir/myid`` (its first line), or None when there is no such file."""
    path = data_dir / "myid"
    if not path.is_file():
        return None
    lines = read_config_text(path).splitlines()
    first = lines[0] if lines else ""
    try:
        return parse_java_int(first, 64)
    except ValueError:
        raise ConfigError(str(path), f"serverid {first} is not a number", line=1) from None


def read_config_text(path: Path) -> str:
    try:
        return decode_properties(path.read_bytes())
    except OSError as error:
        raise ConfigError(str(path), f"cannot read: {error.strerror or error}") from None


def _entries(text: str, source: str) -> list[Property]:
    try:
        return read_properties(text)
    except PropertiesSyntaxError as error:
        raise ConfigError(source, error.reason, line=error.line) from None
