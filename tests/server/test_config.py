"""zoo.cfg parsing: Properties syntax, ZooKeeper's defaults and rules, server.N forms, and every
error naming file, line and key. The oracle tests at the end feed the same files to Apache
ZooKeeper's own Properties/QuorumPeerConfig and compare."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from zkpy.server.config import (
    KNOWN_FOUR_LETTER_WORDS,
    ConfigError,
    LearnerType,
    QuorumServer,
    ServerConfig,
    load_config,
    parse_config,
    read_myid,
)
from zkpy.server.properties import read_properties

REPO_ROOT = Path(__file__).resolve().parents[2]
BASE = "dataDir=/var/zk\n"


def parse(text: str, **kwargs: object) -> ServerConfig:
    return parse_config(text, "zoo.cfg", **kwargs)  # type: ignore[arg-type]


def entries(text: str) -> list[tuple[str, str, int]]:
    return [(p.key, p.value, p.line) for p in read_properties(text)]


# --- Properties syntax --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=b", [("a", "b", 1)]),
        ("a:b", [("a", "b", 1)]),
        ("a b", [("a", "b", 1)]),
        ("a = b", [("a", "b", 1)]),
        ("a\t:\tb", [("a", "b", 1)]),
        ("   a=b   \t", [("a", "b", 1)]),
        ("a=b=c", [("a", "b=c", 1)]),
        ("a:=b", [("a", "=b", 1)]),
        ("a  =  =b", [("a", "=b", 1)]),
        ("a", [("a", "", 1)]),
        ("a=", [("a", "", 1)]),
        ("# c\n! c\n  # indented\n\n   \na=1", [("a", "1", 6)]),
        ("a=1 # not a comment", [("a", "1 # not a comment", 1)]),
        ("a=1\r\nb=2\rc=3\n", [("a", "1", 1), ("b", "2", 2), ("c", "3", 3)]),
        ("a=one\\\n    two\\\n  three\nb=2", [("a", "onetwothree", 1), ("b", "2", 4)]),
        ("a=x\\\\\nb=2", [("a", "x\\", 1), ("b", "2", 2)]),
        ("a=x\\\\\\\nmore", [("a", "x\\more", 1)]),
        ("a=x\\\n\nb=2", [("a", "x", 1), ("b", "2", 3)]),
        ("a=x\\", [("a", "x", 1)]),
        ("# comment \\\nb=2", [("b", "2", 2)]),
        ("a=x\\\n# not a comment", [("a", "x# not a comment", 1)]),
        ("k\\=q=v", [("k=q", "v", 1)]),
        ("k\\ q v", [("k q", "v", 1)]),
        ("k\\:q:v", [("k:q", "v", 1)]),
        ("a=\\u0041\\t\\z", [("a", "A\tz", 1)]),
        ("a=1\na=2", [("a", "1", 1), ("a", "2", 2)]),
    ],
)
def test_properties_syntax(text: str, expected: list[tuple[str, str, int]]) -> None:
    assert entries(text) == expected


def test_malformed_unicode_escape_names_the_line() -> None:
    with pytest.raises(ConfigError, match=r"^zoo\.cfg:3: Malformed \\uxxxx encoding\.$"):
        parse(BASE + "tickTime=2000\nweird=\\u12g4\n")


def test_last_duplicate_wins_and_is_the_line_reported() -> None:
    assert parse(BASE + "clientPort=1\nclientPort=2\n").client_port == 2
    with pytest.raises(ConfigError, match=r"^zoo\.cfg:3: clientPort: 'x' is not an integer$"):
        parse(BASE + "clientPort=1\nclientPort=x\n")


def test_value_on_a_continued_line_reports_the_first_line() -> None:
    with pytest.raises(ConfigError, match=r"^zoo\.cfg:2: tickTime: '20x0' is not an integer$"):
        parse(BASE + "tickTime=20\\\n  x0\n")


# --- defaults and typed keys --------------------------------------------------------------------


def test_defaults() -> None:
    config = parse(BASE)
    assert config.data_dir == Path("/var/zk") == config.data_log_dir
    assert config.tick_time_ms == 3000
    assert config.client_port is None and config.client_port_address is None
    assert config.max_client_cnxns == 60
    assert (config.min_session_timeout_ms, config.max_session_timeout_ms) == (-1, -1)
    assert config.effective_min_session_timeout_ms == 6000
    assert config.effective_max_session_timeout_ms == 60000
    assert (config.init_limit, config.sync_limit) == (0, 0)
    assert config.servers == {} and config.server_id is None and not config.is_distributed
    assert config.peer_type is LearnerType.PARTICIPANT
    assert config.standalone_enabled and not config.reconfig_enabled
    assert not config.local_sessions_enabled
    assert (config.autopurge_snap_retain_count, config.autopurge_purge_interval_hours) == (3, 0)
    assert config.four_letter_words == {"srvr"}
    assert (config.snap_count, config.pre_alloc_size_kb) == (100_000, 65_536)
    assert (config.global_outstanding_limit, config.jute_max_buffer) == (1000, 0xFFFFF)
    assert config.force_sync and not config.skip_acl and config.digest_enabled
    assert config.admin_enable_server
    assert (config.admin_server_address, config.admin_server_port) == ("0.0.0.0", 8080)
    assert config.metrics_provider_class_name.endswith("DefaultMetricsProvider")
    assert (config.metrics_provider_http_host, config.metrics_provider_http_port) == (
        "0.0.0.0", 7000)
    assert not config.extended_types_enabled and config.super_digest is None
    assert config.snapshot_compression_method == ""
    assert not config.readonly_mode_enabled
    assert config.log_level is None and config.log_format is None
    assert config.extra == {} and config.warnings == ()


def test_session_timeouts_follow_tick_unless_set() -> None:
    config = parse(BASE + "tickTime=2000")
    assert (config.effective_min_session_timeout_ms, config.effective_max_session_timeout_ms) == (
        4000, 40000)
    config = parse(BASE + "tickTime=2000\nminSessionTimeout=1000\nmaxSessionTimeout=90000")
    assert (config.effective_min_session_timeout_ms, config.effective_max_session_timeout_ms) == (
        1000, 90000)


@pytest.mark.parametrize(
    ("line", "attr", "expected"),
    [
        ("dataLogDir=/var/zklog", "data_log_dir", Path("/var/zklog")),
        ("clientPort=2181", "client_port", 2181),
        ("clientPort=0", "client_port", None),
        ("tickTime=+2000", "tick_time_ms", 2000),
        ("maxClientCnxns=0", "max_client_cnxns", 0),
        ("initLimit=10", "init_limit", 10),
        ("syncLimit=5", "sync_limit", 5),
        ("connectToLearnerMasterLimit=7", "connect_to_learner_master_limit", 7),
        ("quorumListenOnAllIPs=TRUE", "quorum_listen_on_all_ips", True),
        ("peerType=Observer", "peer_type", LearnerType.PARTICIPANT),  # the server list decides
        ("syncEnabled=false", "sync_enabled", False),
        ("autopurge.snapRetainCount=5", "autopurge_snap_retain_count", 5),
        ("autopurge.purgeInterval=24", "autopurge_purge_interval_hours", 24),
        ("standaloneEnabled=true", "standalone_enabled", True),
        ("reconfigEnabled=true", "reconfig_enabled", True),
        ("localSessionsEnabled=true", "local_sessions_enabled", True),
        ("localSessionsUpgradingEnabled=true", "local_sessions_upgrading_enabled", True),
        ("snapCount=5000", "snap_count", 5000),
        ("preAllocSize=1024", "pre_alloc_size_kb", 1024),
        ("globalOutstandingLimit=50", "global_outstanding_limit", 50),
        ("jute.maxbuffer=4194304", "jute_max_buffer", 4194304),
        ("forceSync=no", "force_sync", False),
        ("forceSync=yes", "force_sync", True),
        ("skipACL=yes", "skip_acl", True),
        ("admin.enableServer=false", "admin_enable_server", False),
        ("admin.serverAddress=127.0.0.1", "admin_server_address", "127.0.0.1"),
        ("admin.serverPort=9090", "admin_server_port", 9090),
        ("metricsProvider.className=org.apache.zookeeper.metrics.prometheus."
         "PrometheusMetricsProvider", "metrics_provider_class_name",
         "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"),
        ("metricsProvider.httpHost=127.0.0.1", "metrics_provider_http_host", "127.0.0.1"),
        ("metricsProvider.httpPort=7001", "metrics_provider_http_port", 7001),
        ("extendedTypesEnabled=true", "extended_types_enabled", True),
        ("zookeeper.extendedTypesEnabled=true", "extended_types_enabled", True),
        ("DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=",
         "super_digest", "super:D/InIHSb7yEEbrWz8b9l71RjZJU="),
        ("zookeeper.DigestAuthenticationProvider.superDigest=super:x", "super_digest", "super:x"),
        ("snapshot.compression.method=gz", "snapshot_compression_method", "gz"),
        ("snapshot.compression.method=snappy", "snapshot_compression_method", "snappy"),
        ("digest.enabled=false", "digest_enabled", False),
        ("readonlymode.enabled=true", "readonly_mode_enabled", True),
        ("zkpy.logLevel=debug", "log_level", "DEBUG"),
        ("zkpy.logLevel=WARNING", "log_level", "WARNING"),
        ("zkpy.logFormat=JSON", "log_format", "json"),
        ("zkpy.logFormat=console", "log_format", "console"),
        ("zkpy.logFormat=console", "extra", {}),
        ("electionAlg=3", "extra", {}),
        ("version=100000000", "config_version", 0x100000000),
    ],
)
def test_typed_keys(line: str, attr: str, expected: object) -> None:
    assert getattr(parse(BASE + line), attr) == expected


def test_client_port_address() -> None:
    config = parse(BASE + "clientPort=2181\nclientPortAddress= 127.0.0.1 ")
    assert (config.client_port, config.client_port_address) == (2181, "127.0.0.1")


def test_snap_retain_count_below_three_is_clamped_with_a_warning() -> None:
    config = parse(BASE + "autopurge.snapRetainCount=1")
    assert config.autopurge_snap_retain_count == 3
    assert config.warnings == (
        "zoo.cfg:2: autopurge.snapRetainCount: Invalid autopurge.snapRetainCount: 1. "
        "Defaulting to 3",
    )


def test_snap_count_below_two_is_clamped_with_a_warning() -> None:
    config = parse(BASE + "snapCount=1")
    assert config.snap_count == 2
    assert config.warnings[0].startswith("zoo.cfg:2: snapCount: SnapCount should be 2 or more")


def test_relative_data_dir_warns_unless_dot_slash() -> None:
    assert parse("dataDir=data").warnings == (
        "zoo.cfg:1: dataDir: data is relative. Prepend ./ to indicate that you're sure!",
    )
    config = parse("dataDir=./data")
    assert config.warnings == () and config.data_dir == Path("data")


@pytest.mark.parametrize(
    ("whitelist", "expected"),
    [
        ("ruok", {"ruok", "srvr"}),
        ("srvr, ruok ,, mntr,", {"srvr", "ruok", "mntr"}),
        ("*", set(KNOWN_FOUR_LETTER_WORDS)),
        ("ruok, *", set(KNOWN_FOUR_LETTER_WORDS)),
        ("", {"srvr"}),
    ],
)
def test_four_letter_word_whitelist(whitelist: str, expected: set[str]) -> None:
    assert parse(BASE + f"4lw.commands.whitelist={whitelist}").four_letter_words == expected


def test_star_enables_the_nineteen_known_commands() -> None:
    assert len(KNOWN_FOUR_LETTER_WORDS) == 19
    assert {"conf", "cons", "mntr", "isro", "hash", "wchs"} <= KNOWN_FOUR_LETTER_WORDS


def test_read_only_mode_adds_isro() -> None:
    config = parse(BASE + "readonlymode.enabled=true")
    assert config.four_letter_words == {"srvr", "isro"}


def test_blank_separated_whitelist_is_one_unknown_name_as_in_zookeeper() -> None:
    config = parse(BASE + "4lw.commands.whitelist=ruok mntr")
    assert config.four_letter_words == {"ruok mntr", "srvr"}
    assert config.warnings == (
        "zoo.cfg:2: 4lw.commands.whitelist: 'ruok mntr' is not a four letter word command",
    )


def test_other_keys_are_kept_in_extra() -> None:
    config = parse(
        BASE + "secureClientPort=2281\nmaxCnxns=100\nssl.keyStore.location=/k\n"
        "authProvider.1=org.example.Auth\nmetricsProvider.exportJvmInfo=false\nmyOwn.key=x y\n"
    )
    assert config.extra == {
        "secureClientPort": "2281",
        "maxCnxns": "100",
        "ssl.keyStore.location": "/k",
        "authProvider.1": "org.example.Auth",
        "metricsProvider.exportJvmInfo": "false",
        "myOwn.key": "x y",
    }
    # secureClientPort, ssl.* and exportJvmInfo are kept verbatim but acted on where they are used.
    assert config.unimplemented_keys() == ("authProvider.1", "maxCnxns")
    assert config.unknown_keys() == ("myOwn.key",)


# --- errors name file, line and key -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("clientPort=abc", "zoo.cfg:2: clientPort: 'abc' is not an integer"),
        ("clientPort=-1", "zoo.cfg:2: clientPort: '-1' is not a port number (0-65535)"),
        ("clientPort=65536", "zoo.cfg:2: clientPort: '65536' is not a port number (0-65535)"),
        ("clientPort=2181 x", "zoo.cfg:2: clientPort: '2181 x' is not an integer"),
        ("tickTime=1e3", "zoo.cfg:2: tickTime: '1e3' is not an integer"),
        ("tickTime=0", "zoo.cfg:2: tickTime: tickTime is not set"),
        ("tickTime=-5", "zoo.cfg:2: tickTime: tickTime must be positive, not -5"),
        ("maxClientCnxns=99999999999", "zoo.cfg:2: maxClientCnxns: '99999999999' is out of "
         "range for a 32-bit integer"),
        ("initLimit=ten", "zoo.cfg:2: initLimit: 'ten' is not an integer"),
        ("minSessionTimeout=50000\ntickTime=2000", "zoo.cfg:2: minSessionTimeout: "
         "minSessionTimeout must not be larger than maxSessionTimeout (50000 ms > 40000 ms)"),
        ("maxSessionTimeout=1000", "zoo.cfg:2: maxSessionTimeout: minSessionTimeout must not "
         "be larger than maxSessionTimeout (6000 ms > 1000 ms)"),
        ("localSessionsEnabled=yes", "zoo.cfg:2: localSessionsEnabled: 'yes' is not 'true' or "
         "'false'"),
        ("standaloneEnabled=1", "zoo.cfg:2: standaloneEnabled: '1' is not 'true' or 'false'"),
        ("peerType=leader", "zoo.cfg:2: peerType: Unrecognised peertype: leader"),
        ("electionAlg=1", "zoo.cfg:2: electionAlg: Invalid electionAlg value. Only 3 is "
         "supported."),
        ("admin.serverPort=http", "zoo.cfg:2: admin.serverPort: 'http' is not an integer"),
        ("admin.enableServer=no", "zoo.cfg:2: admin.enableServer: 'no' is not 'true' or "
         "'false'"),
        ("forceSync=false", "zoo.cfg:2: forceSync: 'false' is not 'yes' or 'no'"),
        ("snapshot.compression.method=zip", "zoo.cfg:2: snapshot.compression.method: 'zip' is "
         "not one of '', 'gz', 'snappy'"),
        ("metricsProvider.className=com.example.Metrics", "zoo.cfg:2: "
         "metricsProvider.className: metrics provider class was not found: "
         "'com.example.Metrics'"),
        ("metricsProvider.httpPort=-3", "zoo.cfg:2: metricsProvider.httpPort: '-3' is not a "
         "port number (0-65535)"),
        ("jute.maxbuffer=0", "zoo.cfg:2: jute.maxbuffer: '0' must be at least 1"),
        ("preAllocSize=-1", "zoo.cfg:2: preAllocSize: '-1' must be at least 0"),
        ("snapCount=many", "zoo.cfg:2: snapCount: 'many' is not an integer"),
        ("autopurge.purgeInterval=1h", "zoo.cfg:2: autopurge.purgeInterval: '1h' is not an "
         "integer"),
        ("secureClientPort=tls", "zoo.cfg:2: secureClientPort: 'tls' is not an integer"),
        ("sslQuorum=maybe", "zoo.cfg:2: sslQuorum: 'maybe' is not 'true' or 'false'"),
        ("sslQuorum=true", "zoo.cfg:2: sslQuorum: sslQuorum=true is not supported by zkpy: its "
         "quorum traffic is neither encrypted nor authenticated"),
        ("quorum.auth.enableSasl=true", "zoo.cfg:2: quorum.auth.enableSasl: quorum.auth.enableSasl=true "
         "is not supported by zkpy: its quorum traffic is neither encrypted nor authenticated"),
        ("weight.1=2", "zoo.cfg:2: weight.1: hierarchical quorums (group.N/weight.N) are not "
         "supported by zkpy"),
        ("version=xyz", "zoo.cfg:2: version: 'xyz' is not a hexadecimal number"),
        ("zkpy.logLevel=loud", "zoo.cfg:2: zkpy.logLevel: 'loud' is not one of DEBUG, INFO, "
         "WARNING, ERROR, CRITICAL"),
        ("zkpy.logFormat=xml", "zoo.cfg:2: zkpy.logFormat: 'xml' is not one of console, json"),
        ("dataLogDir=", "zoo.cfg:2: dataLogDir: must not be empty"),
        ("clientPortAddress=127.0.0.1", "zoo.cfg:2: clientPortAddress: clientPortAddress is "
         "set but clientPort is not set"),
        ("secureClientPortAddress=127.0.0.1", "zoo.cfg:2: secureClientPortAddress: "
         "secureClientPortAddress is set but secureClientPort is not set"),
    ],
)
def test_invalid_values_name_file_line_and_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(BASE + text)
    assert str(caught.value) == message
    assert caught.value.line == int(message.split(":")[1])
    assert caught.value.key == message.split(": ")[1]


def test_data_dir_is_required() -> None:
    with pytest.raises(ConfigError, match=r"^zoo\.cfg: dataDir is not set$"):
        parse("tickTime=2000\n")
    with pytest.raises(ConfigError, match=r"^zoo\.cfg:1: dataDir: must not be empty$"):
        parse("dataDir=\n")


# --- server.N -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("zk1:2888:3888", QuorumServer(7, "zk1", 2888, 3888)),
        ("zk1:2888:3888:participant", QuorumServer(7, "zk1", 2888, 3888)),
        ("zk1:2888:3888:OBSERVER", QuorumServer(7, "zk1", 2888, 3888, LearnerType.OBSERVER)),
        ("zk1:2888:3888;2181", QuorumServer(7, "zk1", 2888, 3888, client_port=2181)),
        ("zk1:2888:3888:observer;10.0.0.1:2181",
         QuorumServer(7, "zk1", 2888, 3888, LearnerType.OBSERVER, "10.0.0.1", 2181)),
        ("[::1]:2888:3888:participant;[::1]:2181",
         QuorumServer(7, "::1", 2888, 3888, LearnerType.PARTICIPANT, "::1", 2181)),
        ("zk1:2888:3888;", QuorumServer(7, "zk1", 2888, 3888)),
        ("zk1:2888:3888:", QuorumServer(7, "zk1", 2888, 3888)),
    ],
)
def test_server_line_forms(spec: str, expected: QuorumServer) -> None:
    quorum = "initLimit=1\nsyncLimit=1\nserver.1=zk0:1:2\nserver.2=zk0:3:4\n"
    assert parse(BASE + quorum + f"server.7={spec}", server_id=1).servers[7] == expected


def test_server_spec_prints_like_zookeeper() -> None:
    config = parse(BASE + "initLimit=1\nsyncLimit=1\nserver.1=zk1:2888:3888;2181\n"
                   "server.2=[::1]:2889:3889:observer;[::1]:2182\nserver.3=zk3:2890:3890\n"
                   "server.4=zk4:2891:3891", server_id=1)
    assert [s.spec() for s in config.servers.values()] == [
        "zk1:2888:3888:participant;0.0.0.0:2181",
        "[0:0:0:0:0:0:0:1]:2889:3889:observer;[0:0:0:0:0:0:0:1]:2182",
        "zk3:2890:3890:participant",
        "zk4:2891:3891:participant",
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("server.x=zk1:2888:3888", "server.x: 'x' is not an integer"),
        ("server.1.2=zk1:2888:3888", "server.1.2: '1.2' is not an integer"),
        ("server.1=zk1:2888", "server.1: zk1:2888 does not have the form server_config"),
        ("server.1=zk1:1:2:observer:x", "server.1: zk1:1:2:observer:x does not have the form"),
        ("server.1=zk1:1:2;a:b:c", "server.1: zk1:1:2;a:b:c does not have the form"),
        ("server.1=zk1:1:2;3;4", "server.1: zk1:1:2;3;4 does not have the form"),
        ("server.1=zk1:2888:3888:leader", "server.1: Unrecognised peertype: leader"),
        ("server.1=zk1:x:3888", "server.1: Address unresolved: zk1:x"),
        ("server.1=zk1:2888:3888;zk1:y", "server.1: Address unresolved: zk1:y"),
        ("server.1=zk1:2888:99999", "server.1: port out of range: 99999"),
        ("server.1=zk1:2888:2888", "server.1: Client and election port must be different! "
         "Please update the configuration file on server.1"),
        ("server.1=[::1:2888:3888", "server.1: [::1:2888:3888 starts with '[' but has no "
         "matching ']:'"),
        ("server.1=zk1:1:2|zk2:1:2", "server.1: Multiple address feature is disabled, but "
         "multiple addresses were specified for sid 1"),
        ("multiAddress.enabled=true\nserver.1=zk1:1:2|zk2:1:2",
         "server.1: zkpy does not support multiple addresses per server"),
    ],
)
def test_bad_server_lines_name_the_line(line: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(BASE + line)
    assert str(caught.value).startswith(f"zoo.cfg:{1 + line.count(chr(10)) + 1}: {message}")


def test_duplicate_server_ids_are_rejected() -> None:
    with pytest.raises(ConfigError, match=r"^zoo\.cfg:3: server\.01: server id 1 is given twice"):
        parse(BASE + "server.1=zk1:2888:3888\nserver.01=zk2:2888:3888\n")


ENSEMBLE = BASE + (
    "tickTime=2000\ninitLimit=10\nsyncLimit=5\n"
    "server.1=10.0.0.1:2888:3888;2181\n"
    "server.2=10.0.0.2:2888:3888;10.0.0.2:2182\n"
    "server.3=10.0.0.3:2888:3888\n"
    "server.4=10.0.0.4:2888:3888:observer\n"
)


def test_ensemble() -> None:
    config = parse(ENSEMBLE, server_id=2)
    assert config.is_distributed
    assert sorted(config.servers) == [1, 2, 3, 4]
    assert sorted(config.voting_members) == [1, 2, 3]
    assert (config.client_port, config.client_port_address) == (2182, "10.0.0.2")
    assert config.warnings == ()


def test_client_port_from_own_server_line_overrides_the_static_one() -> None:
    config = parse(ENSEMBLE + "clientPort=2181\n", server_id=1)
    assert (config.client_port, config.client_port_address) == (2181, None)
    with pytest.raises(ConfigError, match=r"^zoo\.cfg:9: clientPort: client address for this "
                       r"server \(id = 2\) in static config file is 0\.0\.0\.0:2181 is "
                       r"different from client address found in dynamic file: "
                       r"10\.0\.0\.2:2182$"):
        parse(ENSEMBLE + "clientPort=2181\n", server_id=2)


def test_static_client_port_stays_when_own_line_has_none() -> None:
    config = parse(ENSEMBLE + "clientPort=2181\n", server_id=3)
    assert config.client_port == 2181


def test_peer_type_comes_from_the_server_list_with_a_warning() -> None:
    assert parse(ENSEMBLE, server_id=4).peer_type is LearnerType.OBSERVER
    config = parse(ENSEMBLE + "peerType=observer\n", server_id=1)
    assert config.peer_type is LearnerType.PARTICIPANT
    assert config.warnings == (
        "zoo.cfg:9: peerType: Peer type from servers list (participant) doesn't match "
        "peerType (observer). Defaulting to servers list.",
    )


@pytest.mark.parametrize(
    ("text", "server_id", "message"),
    [
        (ENSEMBLE.replace("initLimit=10\n", ""), 1, "zoo.cfg: initLimit is not set"),
        (ENSEMBLE.replace("syncLimit=5\n", "syncLimit=0\n"), 1,
         "zoo.cfg:4: syncLimit: syncLimit is not set"),
        (ENSEMBLE, None, "zoo.cfg: myid file is missing"),
        (BASE + "standaloneEnabled=false\n", None, "zoo.cfg:2: standaloneEnabled: "
         "standaloneEnabled = false then number of participants should be >0"),
        (BASE + "server.1=zk1:1:2:observer\n", None,
         "zoo.cfg: Observers w/o participants is an invalid configuration"),
        (BASE + "server.1=zk1:1:2\nserver.2=zk2:1:2:observer\n", None,
         "zoo.cfg: Observers w/o quorum is an invalid configuration"),
        (ENSEMBLE + "extendedTypesEnabled=true\n", 3, None),
        (ENSEMBLE.replace("server.3=", "server.300=") + "extendedTypesEnabled=true\n", 300,
         "zoo.cfg:9: extendedTypesEnabled: server id 300 must be at most 254 when extended "
         "types are enabled"),
    ],
)
def test_quorum_rules(text: str, server_id: int | None, message: str | None) -> None:
    if message is None:
        parse(text, server_id=server_id)
        return
    with pytest.raises(ConfigError) as caught:
        parse(text, server_id=server_id)
    assert str(caught.value) == message


def test_single_server_line_runs_standalone_on_its_client_port() -> None:
    config = parse(BASE + "server.1=127.0.0.1:2888:3888;127.0.0.1:2181\n", server_id=1)
    assert not config.is_distributed
    assert (config.client_port, config.client_port_address) == (2181, "127.0.0.1")
    assert config.warnings == (
        "zoo.cfg: Invalid configuration, only one server specified (ignoring)",
    )


def test_two_or_four_voters_warn() -> None:
    two = parse(BASE + "initLimit=1\nsyncLimit=1\nserver.1=a:1:2\nserver.2=b:1:2", server_id=1)
    assert two.warnings == (
        "zoo.cfg: No server failure will be tolerated. You need at least 3 servers.",)
    four = parse(ENSEMBLE.replace(":observer", ""), server_id=1)
    assert four.warnings == ("zoo.cfg: Non-optimal configuration, consider an odd number of "
                             "servers.",)


def test_standalone_disabled_single_server_is_distributed() -> None:
    config = parse(BASE + "standaloneEnabled=false\ninitLimit=5\nsyncLimit=2\n"
                   "server.1=127.0.0.1:2888:3888;2181\n", server_id=1)
    assert config.is_distributed


# --- files: load_config, myid, dynamic config ---------------------------------------------------


def test_load_config_reads_myid_and_reports_the_path(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "myid").write_text("2\n")
    cfg = tmp_path / "zoo.cfg"
    cfg.write_text(ENSEMBLE.replace("/var/zk", str(data)))
    config = load_config(cfg)
    assert config.server_id == 2 and config.client_port == 2182
    cfg.write_text(f"dataDir={data}\nclientPort=x\n")
    with pytest.raises(ConfigError, match=rf"^{cfg}:2: clientPort: 'x' is not an integer$"):
        load_config(cfg)


@pytest.mark.parametrize(("content", "expected"), [("1", 1), ("42\n", 42), ("7\r\nx", 7)])
def test_read_myid(tmp_path: Path, content: str, expected: int) -> None:
    assert read_myid(tmp_path) is None
    (tmp_path / "myid").write_text(content)
    assert read_myid(tmp_path) == expected


@pytest.mark.parametrize("content", ["", " 1", "one\n", "1.0"])
def test_bad_myid_names_the_file(tmp_path: Path, content: str) -> None:
    (tmp_path / "myid").write_text(content)
    with pytest.raises(ConfigError, match=rf"^{tmp_path}/myid:1: serverid .* is not a number$"):
        read_myid(tmp_path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.cfg: cannot read: No such file or directory"):
        load_config(tmp_path / "nope.cfg")


def test_latin1_config_is_read(tmp_path: Path) -> None:
    cfg = tmp_path / "zoo.cfg"
    cfg.write_bytes(b"dataDir=/var/zk\nowner=J\xf6rg\n")
    assert load_config(cfg).extra == {"owner": "J\u00f6rg"}


def test_dynamic_config_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "myid").write_text("1")
    dynamic = tmp_path / "zoo.cfg.dynamic.100000000"
    dynamic.write_text("server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\n"
                       "server.2=127.0.0.1:2889:3889:participant;127.0.0.1:2182\n"
                       "server.3=127.0.0.1:2890:3890:participant;127.0.0.1:2183\n")
    cfg = tmp_path / "zoo.cfg"
    cfg.write_text(f"tickTime=2000\ninitLimit=5\nsyncLimit=2\ndataDir={data}\n"
                   f"reconfigEnabled=true\ndynamicConfigFile={dynamic}\n")
    config = load_config(cfg)
    assert sorted(config.servers) == [1, 2, 3]
    assert config.config_version == 0x100000000
    assert config.dynamic_config_file == dynamic
    assert (config.client_port, config.client_port_address) == (2181, "127.0.0.1")
    assert config.is_distributed and config.reconfig_enabled

    dynamic.write_text("server.1=127.0.0.1:2888:3888\nclientPort=2181\n")
    with pytest.raises(ConfigError, match=rf"^{dynamic}:2: clientPort: Unrecognised parameter"):
        load_config(cfg)
    dynamic.write_text("version=1\n")
    with pytest.raises(ConfigError, match="dynamic file shouldn't have version inside"):
        load_config(cfg)
    cfg.write_text(cfg.read_text() + "server.9=127.0.0.1:1:2\n")
    with pytest.raises(ConfigError, match=r"^.*zoo\.cfg:7: server\.9: parameter: server\.9 must "
                                          r"be in a separate dynamic config file$"):
        load_config(cfg)


def test_sample_config_in_the_repository() -> None:
    config = load_config(REPO_ROOT / "conf" / "zoo.cfg")
    assert config.tick_time_ms == 2000
    assert (config.init_limit, config.sync_limit) == (10, 5)
    assert config.data_dir == Path("/tmp/zkpy/data")
    assert config.client_port == 2181
    assert "srvr" in config.four_letter_words and "ruok" in config.four_letter_words
    assert config.warnings == () and config.extra == {}


def test_server_config_is_frozen() -> None:
    config = parse(BASE)
    with pytest.raises(AttributeError):
        config.tick_time_ms = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.extra["x"] = "y"  # type: ignore[index]


# --- oracle: Apache ZooKeeper parses the same files ---------------------------------------------

ORACLE_SOURCE = r"""
import java.io.FileInputStream;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import org.apache.zookeeper.server.quorum.QuorumPeer.QuorumServer;
import org.apache.zookeeper.server.quorum.QuorumPeerConfig;

public class ParseOracle {
    public static void main(String[] args) throws Exception {
        for (int i = 1; i < args.length; i++) {
            boolean props = args[0].equals("properties");
            System.out.println(props ? properties(args[i]) : config(args[i]));
        }
    }

    static String properties(String path) throws Exception {
        Properties props = new Properties();
        try (FileInputStream in = new FileInputStream(path)) { props.load(in); }
        StringBuilder out = new StringBuilder("{");
        for (String key : new TreeMap<String, Object>((Map) props).keySet()) {
            out.append(quote(key.trim())).append(':')
               .append(quote(props.getProperty(key).trim())).append(',');
        }
        return out.append("\"\":\"\"}").toString();
    }

    static String config(String path) {
        QuorumPeerConfig.setStandaloneEnabled(true);
        QuorumPeerConfig.setReconfigEnabled(false);
        QuorumPeerConfig c = new QuorumPeerConfig();
        try {
            c.parse(path);
        } catch (Exception e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            return "{\"error\":" + quote(String.valueOf(cause)) + "}";
        }
        StringBuilder servers = new StringBuilder("{");
        for (Map.Entry<Long, QuorumServer> e : new TreeMap<>(c.getServers()).entrySet()) {
            servers.append(quote(String.valueOf(e.getKey()))).append(':')
                   .append(quote(e.getValue().toString())).append(',');
        }
        return "{\"tick\":" + c.getTickTime() + ",\"min\":" + c.getMinSessionTimeout()
            + ",\"max\":" + c.getMaxSessionTimeout() + ",\"cnxns\":" + c.getMaxClientCnxns()
            + ",\"init\":" + c.getInitLimit() + ",\"sync\":" + c.getSyncLimit()
            + ",\"retain\":" + c.getSnapRetainCount() + ",\"purge\":" + c.getPurgeInterval()
            + ",\"distributed\":" + c.isDistributed()
            + ",\"peer\":" + quote(c.getPeerType().toString().toLowerCase())
            + ",\"port\":"
            + (c.getClientPortAddress() == null ? -1 : c.getClientPortAddress().getPort())
            + ",\"servers\":" + servers.append("\"\":\"\"}") + "}";
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            if (ch == '"' || ch == '\\' || ch < 0x20 || ch > 0x7e) {
                b.append(String.format("\\u%04x", (int) ch));
            } else {
                b.append(ch);
            }
        }
        return b.append('"').toString();
    }
}
"""
ORACLE_CLASSPATH = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-nop.jar"

PROPERTIES_CASES = [
    "a=b\nc:d\ne f\n  g = h  \n",
    "# comment\n! bang\n\n   \t\nkey=value # trailing\n",
    "long=one\\\n    two\\\n  three\nnext=1\n",
    "even=x\\\\\nodd=y\\\\\\\n  z\n",
    "# comment continues? \\\nafter=1\n",
    "k\\=q=v\nk\\ s\\:t:=w\nonly\nempty=\n",
    "u=\\u0041\\u00e9\\t\\n\\z\\\\\n",
    "dup=1\ndup=2\r\ncr=3\rlast=4",
    "a  =  =b\nc::d\ne= \\ f\n",
]

CONFIG_CASES = [
    "dataDir={d}\n",
    "dataDir={d}\ntickTime=2000\nclientPort=2181\nmaxClientCnxns=10\n",
    "dataDir={d}\ntickTime=2000\nminSessionTimeout=1000\nmaxSessionTimeout=5000\n",
    "dataDir={d}\nautopurge.snapRetainCount=1\nautopurge.purgeInterval=12\n",
    "dataDir={d}\ntickTime=0\n",
    "dataDir={d}\nclientPort=abc\n",
    "dataDir={d}\nminSessionTimeout=90000\n",
    "dataDir={d}\nclientPortAddress=127.0.0.1\n",
    "tickTime=2000\n",
    "dataDir={d}\nlocalSessionsEnabled=yes\n",
    "dataDir={d}\npeerType=leader\n",
    "dataDir={d}\nelectionAlg=1\n",
    "dataDir={d}\nserver.1=127.0.0.1:2888\n",
    "dataDir={d}\nserver.1=127.0.0.1:2888:2888\n",
    "dataDir={d}\nserver.1=127.0.0.1:2888:3888:leader\n",
    "dataDir={d}\nserver.1=127.0.0.1:2888:3888|127.0.0.2:2888:3888\n",
    "dataDir={d}\nserver.1=127.0.0.1:2888:3888:observer\n",
    "dataDir={d}\nstandaloneEnabled=false\n",
    "dataDir={d}\nserver.1=127.0.0.1:2888:3888;127.0.0.1:2181\n",
    "dataDir={d}\ninitLimit=5\nsyncLimit=2\nserver.1=127.0.0.1:2888:3888;2181\n"
    "server.2=127.0.0.1:2889:3889:participant;127.0.0.1:2182\n"
    "server.3=[::1]:2890:3890:observer\nserver.4=127.0.0.1:2891:3891\n",
    "dataDir={d}\ninitLimit=5\nserver.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n",
    "dataDir={d}\nstandaloneEnabled=false\ninitLimit=5\nsyncLimit=2\n"
    "server.1=127.0.0.1:2888:3888;2181\npeerType=observer\n",
]


def _run_oracle(tmp_path: Path, mode: str, texts: list[str]) -> list[dict[str, object]]:
    if shutil.which("java") is None or not Path("/usr/share/java/zookeeper.jar").exists():
        pytest.skip("Apache ZooKeeper (Debian's zookeeper.jar) and java are needed")
    source = tmp_path / "ParseOracle.java"
    source.write_text(ORACLE_SOURCE)
    paths = []
    for index, text in enumerate(texts):
        path = tmp_path / f"case{index}.cfg"
        path.write_bytes(text.encode("iso-8859-1"))
        paths.append(str(path))
    result = subprocess.run(
        ["java", "-cp", ORACLE_CLASSPATH, str(source), mode, *paths],
        capture_output=True, text=True, timeout=120, check=True,
    )
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_properties_syntax_matches_java(tmp_path: Path) -> None:
    expected = _run_oracle(tmp_path, "properties", PROPERTIES_CASES)
    for text, java in zip(PROPERTIES_CASES, expected, strict=True):
        java.pop("")
        assert {p.key: p.value for p in read_properties(text)} == java, text


def test_config_rules_match_quorum_peer_config(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "myid").write_text("1\n")
    texts = [case.format(d=data) for case in CONFIG_CASES]
    expected = _run_oracle(tmp_path, "config", texts)
    for text, java in zip(texts, expected, strict=True):
        if "error" in java:
            with pytest.raises(ConfigError):
                parse(text, server_id=1)
            continue
        ours = parse(text, server_id=1)
        servers = java.pop("servers")
        assert isinstance(servers, dict)
        servers.pop("")
        assert {str(sid): s.spec() for sid, s in ours.servers.items()} == servers, text
        assert {
            "tick": ours.tick_time_ms,
            "min": ours.effective_min_session_timeout_ms,
            "max": ours.effective_max_session_timeout_ms,
            "cnxns": ours.max_client_cnxns,
            "init": ours.init_limit,
            "sync": ours.sync_limit,
            "retain": ours.autopurge_snap_retain_count,
            "purge": ours.autopurge_purge_interval_hours,
            "distributed": ours.is_distributed,
            "peer": str(ours.peer_type),
            "port": ours.client_port if ours.client_port is not None else -1,
        } == java, text
