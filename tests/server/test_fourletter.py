"""Four-letter words: their exact texts, and a differential test against Apache ZooKeeper 3.8.

- The unit tests render every command from a real server core driven by plain calls
  (tests.server.fakes.Harness) and pin the bytes: layouts, orders, Java's number, date and
  address renderings, whitelist refusal and the not-serving replies.
- The interop tests (`-m interop`) run Apache ZooKeeper and zkpy side by side, drive both with
  the same kazoo sessions, send every command to each, and compare the replies line by line after
  normalizing only what legitimately differs: version string, ports, session ids, workdirs,
  clock readings, latencies, packet counts, directory sizes, the JVM's own envi values, and the
  order of what Java keeps in hash tables.
- `test_not_serving_replies_match_apache` gets Apache's not-serving texts from a lone member of
  a two-server ensemble (it never leaves LOOKING) and compares them with zkpy's.
"""

from __future__ import annotations

import contextlib
import difflib
import math
import os
import re
import shutil
import socket
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient

from zkpy.datatree.acl import OPEN_ACL_UNSAFE
from zkpy.jute import records as r
from zkpy.jute.constants import CreateMode, OpCode
from zkpy.server import admin_commands, fourletter
from zkpy.server.config import ServerConfig, parse_config
from zkpy.server.metrics import (
    ADVANCED_SUMMARIES,
    BASIC_SUMMARIES,
    PrometheusExport,
    ServerMetrics,
)
from zkpy.server.version import ZOOKEEPER_VERSION

from tests.server.fakes import FakeConnection, Harness
from tests.support.servers import (
    ApacheZkServer,
    ServerProcess,
    ZkpyServer,
    apache_zookeeper_available,
    free_port,
)

ALL_COMMANDS = sorted(fourletter.KNOWN_COMMANDS)
NOT_SERVING = "This ZooKeeper instance is not currently serving requests\n"


def refusal(command: str) -> str:
    return f"{command} is not executed because it is not in the whitelist.\n"


# ====================================================================== unit tests


@contextlib.contextmanager
def utc() -> Iterator[None]:
    """Dates in UTC, as Java prints them with TZ=UTC."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


def make_config(tmp_path: Path, whitelist: str | None = "*") -> ServerConfig:
    text = f"tickTime=2000\ndataDir={tmp_path / 'data'}\nclientPort=2181\n"
    if whitelist is not None:
        text += f"4lw.commands.whitelist={whitelist}\n"
    return parse_config(text, "zoo.cfg")


@dataclass
class World:
    harness: Harness
    ctx: fourletter.FourLetterContext
    a: FakeConnection
    b: FakeConnection
    asking: FakeConnection

    @property
    def server(self) -> Any:
        return self.harness.server

    def run(self, command: str, argument: bytes = b"") -> str:
        return fourletter.run(command, self.ctx, conn=self.asking, argument=argument)


def create(h: Harness, conn: FakeConnection, path: str, data: bytes = b"",
           mode: int = CreateMode.PERSISTENT) -> str:
    request = r.CreateRequest(path, data, OPEN_ACL_UNSAFE, int(mode))
    header, body = h.call(conn, OpCode.create, request, r.CreateResponse)
    assert header.err == 0, header
    return body.path


def watch_data(h: Harness, conn: FakeConnection, path: str) -> None:
    h.call(conn, OpCode.getData, r.GetDataRequest(path, True))


@pytest.fixture()
def world(tmp_path: Path) -> Iterator[World]:
    h = Harness(tick_ms=2000)
    h.server.metrics = ServerMetrics()
    a, _ = h.connect(timeout_ms=10000)
    b, _ = h.connect(timeout_ms=10000)
    a.remote_address = ("127.0.0.1", 40001)
    b.remote_address = ("127.0.0.1", 40002)
    create(h, a, "/app", b"hello")
    create(h, a, "/app/e1", mode=CreateMode.EPHEMERAL)
    create(h, b, "/app/e2", mode=CreateMode.EPHEMERAL)
    create(h, b, "/app/s-", mode=CreateMode.EPHEMERAL_SEQUENTIAL)
    watch_data(h, a, "/app")
    h.call(a, OpCode.getChildren, r.GetChildrenRequest("/app", True))
    h.call(b, OpCode.exists, r.ExistsRequest("/app", True))
    h.call(b, OpCode.exists, r.ExistsRequest("/nothere", True))
    asking = FakeConnection()
    asking.remote_address = ("127.0.0.1", 40009)
    h.server.connection_made(asking)
    ctx = fourletter.FourLetterContext(h.server, make_config(tmp_path), lambda: "standalone",
                                       time.monotonic())
    with utc():
        yield World(h, ctx, a, b, asking)


def sid(conn: FakeConnection) -> str:
    return f"0x{conn.session_id:x}"


def test_every_known_command_has_a_reply(world: World) -> None:
    for command in ALL_COMMANDS:
        if command == "stmk":
            continue
        assert "whitelist" not in world.run(command), command


def test_srvr_layout_counts_the_asking_connection(world: World) -> None:
    received, sent = world.server.stats.packets_received, world.server.stats.packets_sent
    text = world.run("srvr")
    assert text == (
        f"Zookeeper version: {ZOOKEEPER_VERSION}\n"
        "Latency min/avg/max: 0/0.0/0\n"
        f"Received: {received + 1}\n"
        f"Sent: {sent}\n"
        "Connections: 3\n"
        "Outstanding: 0\n"
        "Zxid: 0x6\n"
        "Mode: standalone\n"
        "Node count: 9\n"
    )
    assert world.asking.stats.packets_received == 1


def test_latency_average_is_rounded_half_up_to_four_places(world: World) -> None:
    latency = world.server.stats.latency
    latency.reset()
    for value in (0, 73, 1, 1, 9, 2, 3):
        latency.record(value)
    assert "Latency min/avg/max: 0/12.7143/73\n" in world.run("srvr")
    assert "zk_avg_latency\t12.7143\n" in world.run("mntr")


def test_stat_lists_every_connection_briefly(world: World) -> None:
    a, b = world.a.stats, world.b.stats
    text = world.run("stat")
    head, clients, rest = text.partition("Clients:\n")
    assert head == f"Zookeeper version: {ZOOKEEPER_VERSION}\n"
    assert clients
    assert rest.split("\n\n", 1)[0].splitlines() == [
        f" /127.0.0.1:40001[1](queued=0,recved={a.packets_received},sent={a.packets_sent})",
        f" /127.0.0.1:40002[1](queued=0,recved={b.packets_received},sent={b.packets_sent})",
        " /127.0.0.1:40009[0](queued=0,recved=1,sent=0)",
    ]
    assert rest.split("\n\n", 1)[1].startswith("Latency min/avg/max: ")
    assert rest.endswith("Mode: standalone\nNode count: 9\n")


def test_cons_line_fields_and_order(world: World) -> None:
    a = world.a.stats
    text = world.run("cons")
    lines = text.split("\n")
    assert lines[-2:] == ["", ""]
    assert lines[0] == (
        f" /127.0.0.1:40001[1](queued=0,recved={a.packets_received},sent={a.packets_sent},"
        f"sid={sid(world.a)},lop=GETC,est={a.established_ms},to=10000,lcxid=0x{a.last_cxid:x},"
        f"lzxid=0x6,lresp={a.last_response_ms},llat=0,minlat=0,avglat=0,maxlat=0)"
    )
    assert lines[1].startswith(" /127.0.0.1:40002[1](") and ",lop=EXIS," in lines[1]
    assert lines[2] == " /127.0.0.1:40009[0](queued=0,recved=1,sent=0)"


def test_cons_shows_queued_requests_and_throttled_reading(world: World) -> None:
    world.server.connections[world.a].paused = True
    world.harness.request(world.a, OpCode.create,
                          r.CreateRequest("/q", b"", OPEN_ACL_UNSAFE, int(CreateMode.PERSISTENT)))
    line = world.run("cons").splitlines()[0]
    assert line.startswith(" /127.0.0.1:40001[0](queued=1,")


def test_cons_after_crst_shows_reset_connection(world: World) -> None:
    assert world.run("crst") == "Connection stats reset.\n"
    line = world.run("cons").splitlines()[0]
    assert line == (
        f" /127.0.0.1:40001[1](queued=0,recved=0,sent=0,sid={sid(world.a)},lop=NA,"
        f"est={world.a.stats.established_ms},to=10000,lzxid=0xffffffffffffffff,lresp=0,llat=0,"
        "minlat=0,avglat=0,maxlat=0)"
    )


def test_srst_resets_server_counters(world: World) -> None:
    world.server.stats.auth_failed_count = 2
    assert world.run("srst") == "Server stats reset.\n"
    text = world.run("srvr")
    # The srst reply itself was sent after the reset.
    assert "Latency min/avg/max: 0/0.0/0\nReceived: 1\nSent: 1\n" in text
    assert "zk_auth_failed_count\t2\n" in world.run("mntr")


def test_watch_dumps_show_data_watches_only(world: World) -> None:
    a, b = sid(world.a), sid(world.b)
    assert world.run("wchs") == "2 connections watching 2 paths\nTotal watches:3\n"
    assert world.run("wchc") == f"{a}\n\t/app\n{b}\n\t/app\n\t/nothere\n\n"
    assert world.run("wchp") == f"/app\n\t{a}\n\t{b}\n/nothere\n\t{b}\n\n"


def test_persistent_watches_count_as_data_watches(world: World) -> None:
    world.harness.call(world.a, OpCode.addWatch, r.AddWatchRequest("/p", 1))
    assert world.run("wchs") == "2 connections watching 3 paths\nTotal watches:4\n"
    assert "zk_watch_count\t6\n" in world.run("mntr")


def test_dump_lists_session_buckets_and_ephemerals(world: World) -> None:
    deadline_ms = world.server.tracker.sessions[world.a.session_id].deadline_ms
    expected_date = time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(deadline_ms // 1000))
    a, b = sid(world.a), sid(world.b)
    assert world.run("dump") == (
        "SessionTracker dump:\n"
        "Session Sets (1)/(2):\n"
        f"2 expire at {expected_date}:\n"
        f"\t{a}\n"
        f"\t{b}\n"
        "ephemeral nodes dump:\n"
        "Sessions with Ephemerals (2):\n"
        f"{a}:\n"
        "\t/app/e1\n"
        f"{b}:\n"
        "\t/app/e2\n"
        "\t/app/s-0000000002\n"
        "Connections dump:\n"
    )


def test_dump_leaves_expired_sessions_out_of_the_buckets(world: World) -> None:
    world.harness.clock.now_ms += 60_000
    world.harness.call(world.b, OpCode.exists, r.ExistsRequest("/app", False))
    expired = world.server.tracker.expire(world.harness.clock.now_ms - 30_000)
    assert expired == [world.a.session_id]
    lines = world.run("dump").splitlines()
    assert lines[1] == "Session Sets (1)/(1):"
    assert lines[3] == f"\t{sid(world.b)}"


# The gauges of a standalone Apache ZooKeeper 3.8.0's mntr, in its order.
APACHE_STANDALONE_GAUGES = """
ephemerals_count num_alive_connections avg_latency outstanding_requests znode_count
global_sessions non_mtls_remote_conn_count last_client_response_size packets_sent
packets_received max_client_response_size connection_drop_probability watch_count
auth_failed_count min_latency max_file_descriptor_count approximate_data_size
open_file_descriptor_count local_sessions uptime max_latency outstanding_tls_handshake
min_client_response_size non_mtls_local_conn_count
""".split()


def test_mntr_keys_values_and_order(world: World) -> None:
    lines = world.run("mntr").splitlines()
    pairs = [line.split("\t") for line in lines]
    assert all(len(p) == 2 for p in pairs)
    values = dict(pairs)
    keys = [k for k, _ in pairs]
    metrics = world.server.metrics
    # Apache 3.8.0 prints 485 lines standalone: 2 server values, 24 gauges, 47 counters, 41
    # basic summaries (5 lines each) and 23 advanced ones (9 lines each).
    assert len(keys) == 485
    assert keys == (["zk_version", "zk_server_state"]
                    + [f"zk_{name}" for name in APACHE_STANDALONE_GAUGES]
                    + [f"zk_{name}" for name, _ in metrics.dump()])
    assert keys[26:28] == ["zk_proposal_count", "zk_watch_bytes"]
    assert keys[-9:-7] == ["zk_avg_write_commitproc_time_ms", "zk_min_write_commitproc_time_ms"]
    assert values["zk_version"] == ZOOKEEPER_VERSION
    assert values["zk_server_state"] == "standalone"
    assert values["zk_ephemerals_count"] == "3"
    assert values["zk_num_alive_connections"] == "3"
    assert values["zk_avg_latency"] == "0.0"
    assert values["zk_znode_count"] == "9"
    assert values["zk_global_sessions"] == "2"
    assert values["zk_watch_count"] == "4"
    assert values["zk_approximate_data_size"] == str(world.server.tree.approximate_data_size)
    assert int(values["zk_open_file_descriptor_count"]) > 0
    assert values["zk_connection_drop_probability"] == "0.0"
    assert values["zk_cnt_jvm_pause_time_ms"] == "0"
    assert values["zk_avg_fsynctime"] == "0.0" and values["zk_p999_readlatency"] == "0"
    assert int(values["zk_cnt_readlatency"]) == metrics.readlatency.count > 0


def test_mntr_is_the_admin_servers_monitor(world: World) -> None:
    """One source: the 4lw prints the AdminServer's monitor fields, Java-formatted."""
    admin = admin_commands.AdminContext(world.ctx, metrics=world.server.metrics)
    assert world.ctx.admin is admin
    world.server.metrics.fsynctime.record(3)
    world.server.metrics.fsynctime.record(4)
    monitor = admin_commands.run_command("monitor", admin)
    text = world.run("mntr")
    expected = "".join(f"zk_{k}\t{fourletter.java_text(v)}\n" for k, v in monitor.items()
                       if k not in ("command", "error"))
    volatile = re.compile(r"^zk_(uptime|open_file_descriptor_count|packets_\w+)\t.*$", re.M)
    assert volatile.sub("", text) == volatile.sub("", expected)
    assert "zk_avg_fsynctime\t3.5\n" in text and "zk_cnt_fsynctime\t2\n" in text


def test_mntr_under_the_prometheus_provider_prints_sample_names(world: World) -> None:
    admin = admin_commands.AdminContext(world.ctx, metrics=world.server.metrics)
    admin.prometheus = PrometheusExport(admin, export_process_info=False)
    text = world.run("mntr")
    assert 'zk_fsynctime{quantile="0.5"}\tNaN\n' in text
    assert "zk_znode_count\t9.0\n" in text and "zk_fsynctime_count\t0.0\n" in text
    assert "zk_avg_fsynctime" not in text


def test_java_text() -> None:
    assert [fourletter.java_text(v) for v in (0, -1, 0.0, 2.5, 1e7, math.nan, True, "x")] == [
        "0", "-1", "0.0", "2.5", "1.0E7", "NaN", "true", "x"]


def test_conf_for_a_standalone_server(world: World, tmp_path: Path) -> None:
    snap = tmp_path / "data" / "version-2"
    snap.mkdir(parents=True)
    (snap / "snapshot.0").write_bytes(b"x" * 7)
    (snap / "log.1").write_bytes(b"y" * 5)
    assert world.run("conf") == (
        "clientPort=2181\n"
        "secureClientPort=-1\n"
        f"dataDir={snap}\n"
        "dataDirSize=12\n"
        f"dataLogDir={snap}\n"
        "dataLogSize=12\n"
        "tickTime=2000\n"
        "maxClientCnxns=60\n"
        "minSessionTimeout=4000\n"
        "maxSessionTimeout=40000\n"
        "clientPortListenBacklog=-1\n"
        "serverId=0\n"
    )
    assert world.run("dirs") == "datadir_size: 12\nlogdir_size: 12\n"


def test_conf_and_dirs_swap_the_sizes_as_zookeeper_does(tmp_path: Path, world: World) -> None:
    snap = tmp_path / "snap"
    logs = tmp_path / "logs"
    (snap / "version-2").mkdir(parents=True)
    (logs / "version-2" / "sub").mkdir(parents=True)
    (snap / "version-2" / "snapshot.0").write_bytes(b"s" * 3)
    (logs / "version-2" / "log.1").write_bytes(b"l" * 100)
    (logs / "version-2" / "sub" / "f").write_bytes(b"l" * 11)
    world.ctx.config = parse_config(
        f"dataDir={snap}\ndataLogDir={logs}\nclientPort=2181\nclientPortListenBacklog=50\n"
        "4lw.commands.whitelist=*\n", "zoo.cfg")
    lines = world.run("conf").splitlines()
    assert lines[2:6] == [f"dataDir={snap}/version-2", "dataDirSize=111",
                          f"dataLogDir={logs}/version-2", "dataLogSize=3"]
    assert "clientPortListenBacklog=50" in lines
    assert world.run("dirs") == "datadir_size: 111\nlogdir_size: 3\n"


def test_envi_keys_in_zookeeper_order(world: World) -> None:
    lines = world.run("envi").splitlines()
    assert lines[0] == "Environment:"
    keys = [line.split("=", 1)[0] for line in lines[1:]]
    assert keys == [
        "zookeeper.version", "host.name", "java.version", "java.vendor", "java.home",
        "java.class.path", "java.library.path", "java.io.tmpdir", "java.compiler", "os.name",
        "os.arch", "os.version", "user.name", "user.home", "user.dir", "os.memory.free",
        "os.memory.max", "os.memory.total",
    ]
    assert lines[1] == f"zookeeper.version={ZOOKEEPER_VERSION}"
    # kazoo's server_version() parses this line.
    assert re.search(r"zookeeper.version=([\d\.]*)", "\n".join(lines)).group(1) == "3.9.3"
    assert all(re.fullmatch(r"os\.memory\.\w+=\d+MB", line) for line in lines[-3:])


def test_small_commands(world: World) -> None:
    assert world.run("ruok") == "imok"
    assert world.run("isro") == "rw"
    assert world.run("hash") == ""
    assert world.run("gtmk") == "306"
    world.ctx.mode = lambda: "read-only"
    assert world.run("isro") == "ro"
    assert world.run("srvr").splitlines()[1] == "READ-ONLY mode; serving only read-only clients"


def test_stmk_sets_the_trace_mask_from_eight_bytes(world: World) -> None:
    assert world.run("stmk", struct.pack(">q", 0x1234)) == str(0x1234)
    assert world.run("gtmk") == str(0x1234)
    assert world.run("stmk", struct.pack(">q", -5) + b"junk") == "-5"
    assert world.run("gtmk") == "-5"
    assert world.run("stmk", b"\x00\x01") == ""
    assert world.run("stmk") == ""
    assert world.run("gtmk") == "-5"


def test_whitelist_refusal(tmp_path: Path, world: World) -> None:
    world.ctx.config = make_config(tmp_path, whitelist=None)
    for command in ALL_COMMANDS:
        if command == "srvr":
            assert world.run(command).startswith("Zookeeper version: ")
        else:
            assert world.run(command) == refusal(command)
    assert world.run(fourletter.command_name(fourletter.TELNET_CLOSE)) == (
        "telnet close is not executed because it is not in the whitelist.\n")
    world.ctx.config = make_config(tmp_path, whitelist="*")
    assert world.run("telnet close") == ""


def test_words_and_replies_count_as_packets(tmp_path: Path, world: World) -> None:
    stats = world.server.stats
    received, sent = stats.packets_received, stats.packets_sent
    world.run("ruok")
    assert (stats.packets_received, stats.packets_sent) == (received + 1, sent + 1)
    world.run("stmk")
    assert (stats.packets_received, stats.packets_sent) == (received + 2, sent + 1)
    world.ctx.config = make_config(tmp_path, whitelist="ruok")
    world.run("cons")
    assert (stats.packets_received, stats.packets_sent) == (received + 3, sent + 2)
    assert (world.asking.stats.packets_received, world.asking.stats.packets_sent) == (3, 2)
    # mntr's ~16 kB (as Apache's) go out as two 8192-character packets.
    world.ctx.config = make_config(tmp_path)
    assert 8192 < len(world.run("mntr")) <= 2 * 8192
    assert (stats.packets_received, stats.packets_sent) == (received + 4, sent + 4)


def test_long_replies_count_one_packet_per_8192_characters(world: World) -> None:
    for n in range(40):
        path = f"/watched/{'x' * 200}/{n}"
        world.harness.call(world.a, OpCode.exists, r.ExistsRequest(path, True))
    sent = world.server.stats.packets_sent
    reply = world.run("wchp")
    assert 8192 < len(reply) <= 16384
    assert world.server.stats.packets_sent == sent + 2


NOT_SERVING_REPLIES = {
    "conf": NOT_SERVING, "cons": NOT_SERVING, "crst": NOT_SERVING, "dirs": NOT_SERVING,
    "dump": NOT_SERVING, "mntr": NOT_SERVING, "srst": NOT_SERVING, "srvr": NOT_SERVING,
    "stat": NOT_SERVING, "wchc": NOT_SERVING, "wchp": NOT_SERVING, "wchs": NOT_SERVING,
    "hash": NOT_SERVING.rstrip("\n"), "isro": "null", "ruok": "imok", "gtmk": "306",
}


def not_serving_context(tmp_path: Path) -> fourletter.FourLetterContext:
    return fourletter.FourLetterContext(None, make_config(tmp_path), lambda: "looking",
                                        time.monotonic())


def test_not_serving_replies(tmp_path: Path) -> None:
    ctx = not_serving_context(tmp_path)
    for command, expected in NOT_SERVING_REPLIES.items():
        assert fourletter.run(command, ctx) == expected, command
    assert fourletter.run("envi", ctx).startswith("Environment:\nzookeeper.version=")
    assert fourletter.run("stmk", ctx, argument=struct.pack(">q", 7)) == "7"


def test_serving_flag_of_the_core_is_honoured(world: World) -> None:
    world.server.serving = False
    assert world.run("srvr") == NOT_SERVING
    assert world.run("isro") == "null"


@pytest.mark.parametrize(("value", "text"), [
    (0.0, "0.0"), (9.9286, "9.9286"), (100.0, "100.0"), (0.001, "0.001"), (0.0001, "1.0E-4"),
    (0.0005, "5.0E-4"), (12345678.0, "1.2345678E7"), (1e7, "1.0E7"), (-2.5, "-2.5"),
])
def test_java_double(value: float, text: str) -> None:
    assert fourletter.java_double(value) == text


@pytest.mark.parametrize(("total", "count", "average"), [
    (0, 0, 0.0), (139, 14, 9.9286), (1, 3, 0.3333), (2, 3, 0.6667), (5, 2, 2.5),
    (1, 8, 0.125), (1, 16, 0.0625), (1, 32, 0.0313), (1, 20000, 0.0001),
])
def test_java_average(total: int, count: int, average: float) -> None:
    assert fourletter.java_average(total, count) == average


@pytest.mark.parametrize(("host", "text"), [
    ("127.0.0.1", "/127.0.0.1:2181"),
    ("::1", "/[0:0:0:0:0:0:0:1]:2181"),
    ("::ffff:10.0.0.7", "/10.0.0.7:2181"),
    ("fe80::a:1%eth0", "/[fe80:0:0:0:0:0:a:1%eth0]:2181"),
])
def test_java_socket_address(host: str, text: str) -> None:
    assert fourletter.java_socket_address(host, 2181) == text


def test_java_date_and_hex_ids() -> None:
    with utc():
        assert fourletter.java_date(1795307828999) == "Sun Nov 22 00:37:08 UTC 2026"
        assert fourletter.java_date(0) == "Thu Jan 01 00:00:00 UTC 1970"
    assert fourletter.hex_id(-1) == "0xffffffffffffffff"
    assert fourletter.hex_id(0x100000B319B0000) == "0x100000b319b0000"


def test_is_four_letter_word_and_command_name() -> None:
    assert fourletter.is_four_letter_word(b"mntr")
    assert fourletter.is_four_letter_word(fourletter.TELNET_CLOSE)
    assert not fourletter.is_four_letter_word(b"\x00\x00\x00\x2c")
    assert fourletter.command_name(b"stat") == "stat"
    assert fourletter.command_name(fourletter.TELNET_CLOSE) == "telnet close"


# ====================================================================== differential tests

JAVA_READY = apache_zookeeper_available() and shutil.which("java") is not None

SERVER_KINDS: dict[str, type[ServerProcess]] = {"apache": ApacheZkServer, "zkpy": ZkpyServer}
SESSION_TIMEOUT_S = 30.0
"""Long enough that kazoo sends no ping while the words are collected (it pings after a third
of the timeout of silence), so every connection's last operation is the scenario's."""

# (label, bytes sent). Order matters: the resets come last.
SCRIPT: list[tuple[str, bytes]] = [
    ("ruok", b"ruok"), ("srvr", b"srvr"), ("stat", b"stat"), ("conf", b"conf"), ("cons", b"cons"),
    ("envi", b"envi"), ("mntr", b"mntr"), ("wchs", b"wchs"), ("wchc", b"wchc"), ("wchp", b"wchp"),
    ("dirs", b"dirs"), ("isro", b"isro"), ("dump", b"dump"), ("hash", b"hash"), ("gtmk", b"gtmk"),
    ("stmk 0x1234", b"stmk" + struct.pack(">q", 0x1234)), ("gtmk after stmk", b"gtmk"),
    ("stmk without mask", b"stmk"), ("gtmk after short stmk", b"gtmk"),
    ("crst", b"crst"), ("cons after crst", b"cons"),
    ("srst", b"srst"), ("srvr after srst", b"srvr"),
]


def send(port: int, payload: bytes, timeout_s: float = 10.0) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        sock.sendall(payload)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


@dataclass
class Observation:
    kind: str
    outputs: dict[str, str]
    sessions: dict[str, int]
    workdir: Path
    port: int
    version: str


def observe(kind: str, workdir: Path, scenario: Callable[[dict[str, Any]], None],
            script: list[tuple[str, bytes]], whitelist: str = "*") -> Observation:
    server = SERVER_KINDS[kind](workdir, extra_config={"4lw.commands.whitelist": whitelist})
    with server:
        clients = {name: KazooClient(hosts=server.address, timeout=SESSION_TIMEOUT_S)
                   for name in ("a", "b", "c")}
        try:
            for client in clients.values():
                client.start(timeout=15)
            scenario(clients)
            version = re.match(r"Zookeeper version: (.*)\n", send(server.port, b"srvr")).group(1)
            outputs = {label: send(server.port, payload) for label, payload in script}
            # Still serving everyone after all of that.
            clients["a"].create("/still-serving", b"yes")
            assert clients["c"].get("/still-serving")[0] == b"yes"
            outputs["ruok at the end"] = send(server.port, b"ruok")
            sessions = {name: client.client_id[0] for name, client in clients.items()}
        finally:
            for client in clients.values():
                client.stop()
                client.close()
    return Observation(kind, outputs, sessions, workdir, server.port, version)


def _noop(event: Any) -> None:
    pass


def main_scenario(clients: dict[str, Any]) -> None:
    a, b, c = clients["a"], clients["b"], clients["c"]
    a.create("/app/x", b"hello", makepath=True)
    a.create("/app/e1", b"", ephemeral=True)
    b.create("/app/e2", b"", ephemeral=True)
    b.create("/app/s-", b"", ephemeral=True, sequence=True)
    c.create("/c", b"data")
    a.get("/app/x", watch=_noop)
    a.get_children("/app", watch=_noop)
    b.exists("/app/x", watch=_noop)
    b.exists("/nothere", watch=_noop)
    c.get("/c", watch=_noop)
    c.exists("/app/e1", watch=_noop)


@pytest.fixture(scope="module")
def main_observations(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Observation]:
    if not JAVA_READY:
        pytest.skip("needs Java and Debian's zookeeper.jar")
    base = tmp_path_factory.mktemp("fourletter")
    return {kind: observe(kind, base / kind, main_scenario, SCRIPT) for kind in SERVER_KINDS}


# ---------------------------------------------------------------- normalization

VOLATILE_ENVI_KEYS = ("java.version", "java.vendor", "java.home", "java.class.path",
                      "java.library.path", "java.io.tmpdir", "os.memory.free", "os.memory.max",
                      "os.memory.total")
VOLATILE_MNTR_KEYS = ("zk_avg_latency", "zk_min_latency", "zk_max_latency",
                      "zk_packets_sent", "zk_packets_received", "zk_uptime",
                      "zk_open_file_descriptor_count", "zk_max_file_descriptor_count")
DATE = r"\w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2} \S+ \d{4}"


def common_substitutions(text: str, obs: Observation) -> str:
    text = text.replace(obs.version, "<version>")
    text = text.replace(str(obs.workdir), "<workdir>")
    for name, session_id in obs.sessions.items():
        text = text.replace(f"0x{session_id & (2**64 - 1):x}", f"<session {name}>")
    text = re.sub(r"/127\.0\.0\.1:\d+", "/127.0.0.1:<port>", text)
    return text.replace(f"clientPort={obs.port}\n", "clientPort=<port>\n")


def sort_blocks(lines: list[str]) -> list[str]:
    """Blocks of a head line and its tab-indented lines, sorted, each block's lines sorted."""
    blocks: list[list[str]] = []
    for line in lines:
        if line.startswith("\t") and blocks:
            blocks[-1].append(line)
        else:
            blocks.append([line])
    return [line for block in sorted([b[0], *sorted(b[1:])] for b in blocks) for line in block]


def normalize_counts(text: str) -> str:
    text = re.sub(r"\b(recved|sent)=\d+", r"\1=<n>", text)
    return re.sub(r"^(Received|Sent): \d+$", r"\1: <n>", text, flags=re.M)


def normalize_latency_line(text: str) -> str:
    assert re.search(r"^Latency min/avg/max: \d+/\d+\.\d+(E-?\d+)?/\d+$", text, re.M), text
    return re.sub(r"^Latency min/avg/max: .*$", "Latency min/avg/max: <lat>", text, flags=re.M)


def normalize(label: str, text: str, obs: Observation) -> list[str]:
    command = label.split()[0]
    text = common_substitutions(text, obs)
    if text.endswith(" is not executed because it is not in the whitelist.\n"):
        return text.split("\n")
    if command in ("srvr", "stat") and label != "srvr after srst":
        text = normalize_counts(normalize_latency_line(text))
    if command == "stat":
        head, clients, rest = text.partition("Clients:\n")
        client_lines, _, tail = rest.partition("\n\n")
        text = head + clients + "\n".join(sorted(client_lines.split("\n"))) + "\n\n" + tail
    if command == "cons":
        text = re.sub(r",est=\d+", ",est=<time>", text)
        if label != "cons after crst":
            text = normalize_counts(text)
            text = re.sub(r",lresp=\d+", ",lresp=<time>", text)
            text = re.sub(r",(llat|minlat|avglat|maxlat)=\d+", r",\1=<lat>", text)
        body, _, tail = text.rpartition("\n\n")
        text = "\n".join(sorted(body.split("\n"))) + "\n\n" + tail
    if command == "conf":
        text = re.sub(r"^(dataDirSize|dataLogSize)=\d+$", r"\1=<size>", text, flags=re.M)
    if command == "dirs":
        text = re.sub(r"^(datadir_size|logdir_size): \d+$", r"\1: <size>", text, flags=re.M)
    if command == "envi":
        for key in VOLATILE_ENVI_KEYS:
            text = re.sub(rf"^{re.escape(key)}=.*$", f"{key}=<runtime>", text, flags=re.M)
    if command in ("wchc", "wchp"):
        lines = text.split("\n")
        assert lines[-2:] == ["", ""], text
        return sort_blocks(lines[:-2]) + ["", ""]
    if command == "dump":
        return normalize_dump(text)
    return text.split("\n")


def normalize_dump(text: str) -> list[str]:
    """Session buckets depend on when each session was last touched, so the sessions of all
    buckets are pooled; Apache's NIO connection expiry section is cut (zkpy prints none, as
    Apache does with its Netty factory)."""
    lines = text.split("\n")
    assert lines[0] == "SessionTracker dump:"
    sets = re.fullmatch(r"Session Sets \((\d+)\)/\((\d+)\):", lines[1])
    assert sets, lines[1]
    eph = lines.index("ephemeral nodes dump:")
    sessions: list[str] = []
    for line in lines[2:eph]:
        if line.startswith("\t"):
            sessions.append(line)
        else:
            assert re.fullmatch(rf"\d+ expire at {DATE}:", line), line
    rest = lines[eph:lines.index("Connections dump:") + 1]
    return ["SessionTracker dump:", f"Session Sets (<n>)/({sets.group(2)}):", *sorted(sessions),
            *rest[:2], *sort_blocks(rest[2:-1]), rest[-1]]


def difference(label: str, observations: dict[str, Observation]) -> str:
    """The unified diff of one reply, Apache's against zkpy's, after normalization ('' if none)."""
    apache, zkpy = observations["apache"], observations["zkpy"]
    expected = normalize(label, apache.outputs[label], apache)
    actual = normalize(label, zkpy.outputs[label], zkpy)
    if expected == actual:
        return ""
    diff = "\n".join(difflib.unified_diff(expected, actual, "apache", "zkpy", lineterm=""))
    return f"{label!r} differs after normalization:\n{diff}\n"


def compare(labels: list[str], observations: dict[str, Observation]) -> None:
    report = "".join(difference(label, observations) for label in labels)
    if report:
        pytest.fail(report)


# ---------------------------------------------------------------- the differential tests


@pytest.mark.interop
@pytest.mark.parametrize("label", [lb for lb, _ in SCRIPT if lb != "mntr"] + ["ruok at the end"])
def test_reply_matches_apache(label: str, main_observations: dict[str, Observation]) -> None:
    compare([label], main_observations)


def mntr_pairs(text: str) -> list[tuple[str, str]]:
    pairs = []
    for line in text.split("\n")[:-1]:
        key, _, value = line.partition("\t")
        # A summary set's key (a top-level znode name) may hold any character but a tab.
        assert re.fullmatch(r"zk_\w+|zk_\w+_[^\t]+_\w+", key) and value, line
        pairs.append((key, value))
    assert text.endswith("\n")
    return pairs


CLASSIC_MNTR_KEYS = {
    "zk_version", "zk_server_state", "zk_avg_latency", "zk_max_latency", "zk_min_latency",
    "zk_packets_received", "zk_packets_sent", "zk_num_alive_connections", "zk_outstanding_requests",
    "zk_znode_count", "zk_watch_count", "zk_ephemerals_count", "zk_approximate_data_size",
    "zk_open_file_descriptor_count", "zk_max_file_descriptor_count",
}
UNRECORDED_SET_ENTRY = re.compile(
    r"zk_(avg|min|max|cnt|sum|p50|p95|p99|p999)_.+_(read_per_namespace|write_per_namespace"
    r"|learner_handler_qp_size|learner_handler_qp_time_ms)")
"""Entries of summary sets zkpy does not record (bytes per top-level znode, learner handler
queues): Apache prints one block per key once it has recorded something for it."""
SUMMARY_FAMILIES = frozenset(BASIC_SUMMARIES + ADVANCED_SUMMARIES)
RECORDED_FAMILIES = frozenset(ServerMetrics.__annotations__)
"""What zkpy records; every other family must show ZooKeeper's nothing-recorded values."""
UNRECORDED_FAMILIES = frozenset(f.name for f in ServerMetrics().families()) - RECORDED_FAMILIES
TIMING_FAMILIES = {"fsynctime", "snapshottime", "readlatency", "updatelatency",
                   "sync_processor_batch_size", "election_time", "follower_sync_time",
                   "observer_sync_time"}
"""Recorded by both, but timings (and batches, which timing decides; zkpy also counts its
start-up snapshot and session creations differently): compared by form only."""


def family(key: str) -> str:
    """The metric a mntr key belongs to: zk_p99_readlatency -> readlatency."""
    name = key.removeprefix("zk_")
    prefix, _, rest = name.partition("_")
    if prefix in ("avg", "min", "max", "cnt", "sum", "p50", "p95", "p99", "p999") \
            and rest in SUMMARY_FAMILIES:
        return rest
    return name


def java_form(value: str) -> str:
    return "long" if re.fullmatch(r"-?\d+", value) else (
        "double" if re.fullmatch(r"-?\d+\.\d+(E-?\d+)?|NaN", value) else "text")


def compare_mntr(apache: list[tuple[str, str]], zkpy: list[tuple[str, str]],
                 volatile: set[str]) -> None:
    """zkpy prints every key Apache prints (but for unrecorded summary sets), in Apache's order,
    each value in the same Java form; what zkpy does not record at its initial value, the rest
    equal to Apache's but for the `volatile` keys and families."""
    apache_keys = [k for k, _ in apache if not UNRECORDED_SET_ENTRY.fullmatch(k)]
    zkpy_keys = [k for k, _ in zkpy]
    assert zkpy_keys == apache_keys, "\n".join(difflib.unified_diff(
        apache_keys, zkpy_keys, "apache", "zkpy", lineterm=""))
    apache_values = dict(apache)
    for key, value in zkpy:
        expected = apache_values[key]
        assert java_form(value) == java_form(expected), (key, expected, value)
        if key == "zk_version" or key in volatile or family(key) in volatile:
            continue
        if family(key) in UNRECORDED_FAMILIES:
            assert value in ("0", "0.0"), (key, value)
        else:
            assert value == expected, (key, expected, value)


@pytest.mark.interop
def test_mntr_matches_apache(main_observations: dict[str, Observation]) -> None:
    apache = mntr_pairs(main_observations["apache"].outputs["mntr"])
    zkpy = mntr_pairs(main_observations["zkpy"].outputs["mntr"])
    assert [k for k, _ in zkpy][:2] == ["zk_version", "zk_server_state"]
    assert CLASSIC_MNTR_KEYS <= {k for k, _ in zkpy}
    assert len(zkpy) == 485
    compare_mntr(apache, zkpy, set(VOLATILE_MNTR_KEYS) | TIMING_FAMILIES)


def quirks_scenario(clients: dict[str, Any]) -> None:
    a = clients["a"]
    a.create("/app/x", b"x", makepath=True)
    a.create("/gone", b"", ephemeral=True)
    a.delete("/gone")
    a.get("/app/x", watch=_noop)
    a.set("/app/x", b"fired")
    time.sleep(0.2)


@pytest.mark.interop
def test_emptied_ephemerals_and_fired_watches_match_apache(tmp_path: Path) -> None:
    if not JAVA_READY:
        pytest.skip("needs Java and Debian's zookeeper.jar")
    script = [("wchs", b"wchs"), ("wchc", b"wchc"), ("dump", b"dump")]
    observations = {kind: observe(kind, tmp_path / kind, quirks_scenario, script, "*")
                    for kind in SERVER_KINDS}
    compare([label for label, _ in script], observations)


@pytest.mark.interop
def test_whitelist_refusals_match_apache(tmp_path: Path) -> None:
    if not JAVA_READY:
        pytest.skip("needs Java and Debian's zookeeper.jar")
    script = [(command, command.encode()) for command in ALL_COMMANDS if command != "srvr"]
    script.append(("telnet close", fourletter.TELNET_CLOSE))
    observations = {kind: observe(kind, tmp_path / kind, lambda clients: None, script, "ruok")
                    for kind in SERVER_KINDS}
    compare([label for label, _ in script], observations)
    assert observations["zkpy"].outputs["ruok"] == "imok"
    assert observations["zkpy"].outputs["cons"] == refusal("cons")


class LookingApacheServer(ApacheZkServer):
    """A lone member of a two-server ensemble: it listens on its client port but stays LOOKING,
    so every command meets ZooKeeper's not-serving branch."""

    def config_lines(self) -> dict[str, str]:
        lines = super().config_lines()
        lines.update({
            "initLimit": "5", "syncLimit": "2",
            "server.1": f"127.0.0.1:{free_port()}:{free_port()}",
            "server.2": f"127.0.0.1:{free_port()}:{free_port()}",
        })
        return lines

    def write_config(self) -> None:
        super().write_config()
        (self.data_dir / "myid").write_text("1\n")

    def wait_serving(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if send(self.port, b"srvr", timeout_s=1.0) == NOT_SERVING:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"lone quorum member did not listen:\n{self.log_tail()}")


@pytest.mark.interop
def test_not_serving_replies_match_apache(tmp_path: Path) -> None:
    if not JAVA_READY:
        pytest.skip("needs Java and Debian's zookeeper.jar")
    with LookingApacheServer(tmp_path / "apache") as apache:
        replies = {command: send(apache.port, command.encode()) for command in ALL_COMMANDS
                   if command not in ("stmk", "envi")}
        replies["stmk 7"] = send(apache.port, b"stmk" + struct.pack(">q", 7))
    ctx = not_serving_context(tmp_path)
    for command, apache_reply in replies.items():
        if command == "stmk 7":
            zkpy_reply = fourletter.run("stmk", ctx, argument=struct.pack(">q", 7))
        else:
            zkpy_reply = fourletter.run(command, ctx)
        assert zkpy_reply == apache_reply, command
    assert {c: replies[c] for c in NOT_SERVING_REPLIES} == NOT_SERVING_REPLIES
