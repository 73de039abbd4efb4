"""The AdminServer side by side with Apache ZooKeeper 3.8's (Debian), standalone.

Apache runs with admin.enableServer=true on a free loopback port (its zoo.cfg key overrides the
harness's -Dzookeeper.admin.enableServer=false: ZooKeeper turns unknown keys into system
properties after start-up; jetty comes through zookeeper.jar's manifest, servlet-api.jar is on
the harness's classpath). zkpy's endpoints run in-process around a server core driven through
the same kind of state (a connected session with an ephemeral and data watches), because
the zkpy process does not start them yet. Every command name and alias is fetched from both and
the JSON shapes compared: key order at the top level (ZooKeeper's LinkedHashMap), key sets
recursively below it (Jackson's bean order is not stable from run to run), JSON types, and maps
keyed by data (session ids, paths, times, server ids) by the shape of their values.

Deliberate differences, asserted as such: `environment` has the same keys with Python's values;
`system_properties` lists JVM keys only where Python has a counterpart; `monitor` reports every key
Apache reports but the per-namespace summaries zkpy does not record.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kazoo.client import KazooClient

from zkpy.jute import records as r
from zkpy.jute.constants import CreateMode, OpCode
from zkpy.server import admin_commands, fourletter
from zkpy.server.config import parse_config
from zkpy.server.metrics import ServerMetrics
from zkpy.server.runtime.admin_http import start_http_endpoints

from tests.server.fakes import Harness
from tests.server.test_fourletter import UNRECORDED_SET_ENTRY
from tests.server.test_admin_commands import create, watch_data
from tests.support.servers import ApacheZkServer, apache_zookeeper_available, free_port

pytestmark = pytest.mark.interop

NAMES = sorted(admin_commands.BY_NAME) + ["nosuch"]
DATA_KEYED = {"expiry_time_to_session_ids", "session_id_to_ephemeral_paths",
              "session_id_to_watched_paths", "path_to_session_ids", "current_config"}
LOOSE = {"environment", "system_properties", "monitor"}


def fetch(url: str) -> tuple[str, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.headers.get("Content-Type", ""), response.read().decode()


def apache_replies(workdir: Path) -> dict[str, tuple[str, str]]:
    admin_port = free_port()
    server = ApacheZkServer(workdir, extra_config={
        "admin.enableServer": "true", "admin.serverAddress": "127.0.0.1",
        "admin.serverPort": str(admin_port)})
    with server:
        client = KazooClient(hosts=server.address, timeout=10)
        client.start(timeout=15)
        try:
            client.create("/app", b"hello")
            client.create("/app/e", ephemeral=True)
            client.get("/app", watch=lambda event: None)
            client.exists("/nothere", watch=lambda event: None)
            base = f"http://127.0.0.1:{admin_port}/commands"
            replies = {name: fetch(f"{base}/{name}") for name in NAMES}
            replies["/commands"] = fetch(base)
        finally:
            client.stop()
            client.close()
    return replies


def zkpy_replies(tmp_path: Path) -> dict[str, tuple[str, str]]:
    h = Harness(tick_ms=2000)
    conn, _ = h.connect(timeout_ms=10000)
    create(h, conn, "/app", b"hello")
    create(h, conn, "/app/e", mode=CreateMode.EPHEMERAL)
    watch_data(h, conn, "/app")
    h.call(conn, OpCode.exists, r.ExistsRequest("/nothere", True))
    config = parse_config(f"tickTime=2000\ndataDir={tmp_path / 'data'}\nclientPort=2181\n"
                          "admin.serverAddress=127.0.0.1\nadmin.serverPort=0\n", "zoo.cfg")
    four = fourletter.FourLetterContext(h.server, config, lambda: "standalone", time.monotonic())

    async def main() -> dict[str, tuple[str, str]]:
        endpoints = await start_http_endpoints(config, four, metrics=ServerMetrics(),
                                               initial_config="tickTime=2000\n")
        base = f"http://127.0.0.1:{endpoints.admin_port}/commands"
        replies = {}
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
                for name in [*NAMES, "/commands"]:
                    url = base if name == "/commands" else f"{base}/{name}"
                    async with session.get(url) as response:
                        replies[name] = (response.headers.get("Content-Type", ""),
                                         await response.text())
        finally:
            await endpoints.close()
        return replies

    return asyncio.run(main())


@pytest.fixture(scope="module")
def replies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, tuple[str, str]]]:
    if shutil.which("java") is None or not apache_zookeeper_available():
        pytest.skip("needs Java and Debian's zookeeper.jar")
    return {"apache": apache_replies(tmp_path_factory.mktemp("apache")),
            "zkpy": zkpy_replies(tmp_path_factory.mktemp("zkpy"))}


def shape(value: Any, key: str | None = None) -> Any:
    """The structure of a reply without its values: dicts keep their keys (maps keyed by data
    keep one `*` entry), lists the shape of their first element, scalars their JSON type."""
    if isinstance(value, dict):
        if key in DATA_KEYED:
            return {"*": shape(next(iter(value.values())))} if value else {}
        return {k: shape(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def differences(apache: Any, zkpy: Any, where: str = "") -> list[str]:
    if isinstance(apache, dict) and isinstance(zkpy, dict):
        out = []
        if set(apache) - set(zkpy):
            out.append(f"{where}: only Apache has {sorted(set(apache) - set(zkpy))}")
        if set(zkpy) - set(apache):
            out.append(f"{where}: only zkpy has {sorted(set(zkpy) - set(apache))}")
        for k in apache.keys() & zkpy.keys():
            out += differences(apache[k], zkpy[k], f"{where}.{k}")
        return out
    if isinstance(apache, list) and isinstance(zkpy, list):
        return differences(apache[0], zkpy[0], where + "[0]") if apache and zkpy else []
    return [] if apache == zkpy else [f"{where}: Apache {apache}, zkpy {zkpy}"]


@pytest.mark.parametrize("name", [n for n in NAMES
                                  if admin_commands.BY_NAME.get(n) is None
                                  or admin_commands.BY_NAME[n].primary not in LOOSE])
def test_reply_shape_matches_apache(replies: dict[str, Any], name: str) -> None:
    apache_type, apache_text = replies["apache"][name]
    zkpy_type, zkpy_text = replies["zkpy"][name]
    assert zkpy_type == apache_type == "application/json"
    apache, zkpy = json.loads(apache_text), json.loads(zkpy_text)
    assert list(zkpy) == list(apache), "top-level keys or their order differ"
    assert not differences(shape(apache), shape(zkpy)), differences(shape(apache), shape(zkpy))
    assert zkpy["command"] == apache["command"]
    if apache["error"] is not None:
        assert zkpy["error"] == apache["error"]


def test_command_list_matches_apache(replies: dict[str, Any]) -> None:
    assert replies["zkpy"]["/commands"][1] == replies["apache"]["/commands"][1]


def test_environment_has_apaches_keys(replies: dict[str, Any]) -> None:
    for name in ("envi", "env", "environment"):
        apache = json.loads(replies["apache"][name][1])
        zkpy = json.loads(replies["zkpy"][name][1])
        assert list(zkpy) == list(apache)


def test_system_properties_are_a_subset_of_apaches(replies: dict[str, Any]) -> None:
    apache = json.loads(replies["apache"]["sysp"][1])
    zkpy = json.loads(replies["zkpy"]["sysp"][1])
    ours = {k for k in zkpy if not k.startswith("zookeeper.")}
    assert ours <= set(apache), ours - set(apache)
    assert list(zkpy)[-2:] == ["command", "error"]


def test_monitor_has_apaches_keys_in_its_order(replies: dict[str, Any]) -> None:
    apache = json.loads(replies["apache"]["mntr"][1])
    zkpy = json.loads(replies["zkpy"]["mntr"][1])
    # Apache's per-namespace byte summaries (one block per top-level znode written or read)
    # are the one summary set zkpy does not record.
    expected = [k for k in apache if not UNRECORDED_SET_ENTRY.fullmatch(f"zk_{k}")]
    assert list(zkpy) == expected
    assert list(zkpy)[:2] == ["version", "server_state"] and list(zkpy)[-2:] == ["command", "error"]
    for key in zkpy:
        assert type(zkpy[key]) is type(apache[key]), key
