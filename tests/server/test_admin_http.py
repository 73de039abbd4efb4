"""The AdminServer and /metrics over real HTTP, in-process, around a server core built like
tests/server/fakes.py does (the zkpy process wires them in later).

Expected behaviour is JettyAdminServer's and PrometheusMetricsProvider's as Apache ZooKeeper 3.8
serves them: 200 and JSON for every command name (errors in the body), the link list on
/commands, Jackson's pretty layout, text format 0.0.4 on /metrics.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from zkpy.server import admin_commands
from zkpy.server.config import ServerConfig, parse_config
from zkpy.server.metrics import ServerMetrics
from zkpy.server.runtime.admin_http import HttpEndpoints, jackson_json, start_http_endpoints

from tests.server.test_admin_commands import (
    ALIASES,
    APACHE_PRIMARY_NAMES,
    APACHE_STANDALONE_KEYS,
    World,
    make_world,
)

PROMETHEUS = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
TIMEOUT = aiohttp.ClientTimeout(total=10)


@pytest.fixture()
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def http_config(tmp_path: Path, extra: str = "", metrics: bool = True) -> ServerConfig:
    text = (f"tickTime=2000\ndataDir={tmp_path / 'data'}\nclientPort=2181\n"
            "admin.serverAddress=127.0.0.1\nadmin.serverPort=0\n")
    if metrics:
        text += (f"metricsProvider.className={PROMETHEUS}\nmetricsProvider.httpHost=127.0.0.1\n"
                 "metricsProvider.httpPort=0\n")
    return parse_config(text + extra, "zoo.cfg")


def serve(world: World, config: ServerConfig,
          body: Callable[[HttpEndpoints, aiohttp.ClientSession], Awaitable[None]]) -> None:
    """Starts the endpoints for `world`'s core, runs `body` against them, and stops them."""

    async def main() -> None:
        four = replace(world.ctx.four_letter, config=config)
        endpoints = await start_http_endpoints(config, four, metrics=world.ctx.metrics,
                                               initial_config="tickTime=2000\n")
        try:
            async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
                await body(endpoints, session)
        finally:
            await endpoints.close()

    asyncio.run(main())


async def get(session: aiohttp.ClientSession, port: int | None, path: str) -> tuple[int, str, str]:
    assert port is not None
    async with session.get(f"http://127.0.0.1:{port}{path}") as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


def test_commands_lists_every_primary_name_as_jetty_does(world: World, tmp_path: Path) -> None:
    async def body(endpoints: HttpEndpoints, session: aiohttp.ClientSession) -> None:
        expected = "".join(f'<a href="/commands/{n}">{n}</a>\n<br/>\n'
                           for n in APACHE_PRIMARY_NAMES)
        for path in ("/commands", "/commands/"):
            status, kind, text = await get(session, endpoints.admin_port, path)
            assert (status, text) == (200, expected)
            assert kind.startswith("text/html")

    serve(world, http_config(tmp_path), body)


def test_every_command_over_http(world: World, tmp_path: Path) -> None:
    async def body(endpoints: HttpEndpoints, session: aiohttp.ClientSession) -> None:
        for name in sorted(set(APACHE_PRIMARY_NAMES) | set(ALIASES)):
            status, kind, text = await get(session, endpoints.admin_port, f"/commands/{name}")
            assert (status, kind) == (200, "application/json"), name
            out = json.loads(text)
            primary = admin_commands.BY_NAME[name].primary
            assert out["command"] == primary and "error" in out, name
            if primary in APACHE_STANDALONE_KEYS:
                assert list(out) == APACHE_STANDALONE_KEYS[primary], name
            assert text.startswith("{\n  \"") and text.endswith("\n}"), name
        status, _, text = await get(session, endpoints.admin_port, "/commands/nosuch")
        assert status == 200
        assert json.loads(text) == {"command": "nosuch", "error": "Unknown command: nosuch"}

    serve(world, http_config(tmp_path), body)


def test_query_parameters_are_command_arguments(world: World, tmp_path: Path) -> None:
    async def body(endpoints: HttpEndpoints, session: aiohttp.ClientSession) -> None:
        port = endpoints.admin_port
        _, _, text = await get(session, port, "/commands/stmk?traceMask=7&traceMask=9")
        assert json.loads(text)["tracemask"] == 7
        _, _, text = await get(session, port, "/commands/gtmk")
        assert json.loads(text)["tracemask"] == 7
        _, _, text = await get(session, port, "/commands/icfg")
        assert json.loads(text)["initial_configuration"] == "tickTime=2000\n"
        async with session.post(f"http://127.0.0.1:{port}/commands/ruok") as response:
            assert response.status == 405
        async with session.head(f"http://127.0.0.1:{port}/commands/ruok") as response:
            assert response.status == 200

    serve(world, http_config(tmp_path), body)


def test_metrics_endpoint(world: World, tmp_path: Path) -> None:
    metrics = world.ctx.metrics
    assert metrics is not None
    metrics.commit_count.add(4)

    async def body(endpoints: HttpEndpoints, session: aiohttp.ClientSession) -> None:
        status, kind, text = await get(session, endpoints.metrics_port, "/metrics")
        assert (status, kind) == (200, "text/plain; version=0.0.4; charset=utf-8")
        parsed = {f.name: f.type for f in text_string_to_metric_families(text)}
        assert parsed["znode_count"] == "gauge" and parsed["fsynctime"] == "summary"
        assert parsed["commit_count"] == "counter"
        assert "\ncommit_count 4.0\n" in text and "commit_count_total" not in text
        assert "process_resident_memory_bytes" in parsed
        _, _, text = await get(session, endpoints.metrics_port, "/metrics?name[]=znode_count")
        assert [f.name for f in text_string_to_metric_families(text)] == ["znode_count"]
        status, _, _ = await get(session, endpoints.metrics_port, "/other")
        assert status == 404
        # mntr on the AdminServer now shows the provider's sample names.
        _, _, text = await get(session, endpoints.admin_port, "/commands/mntr")
        assert "fsynctime_count" in json.loads(text)

    serve(world, http_config(tmp_path), body)


def test_zkpy_provider_name_and_export_switch(world: World, tmp_path: Path) -> None:
    config = replace(http_config(tmp_path, "metricsProvider.exportJvmInfo=false\n"),
                     metrics_provider_class_name="zkpy.metrics.prometheus")

    async def body(endpoints: HttpEndpoints, session: aiohttp.ClientSession) -> None:
        _, _, text = await get(session, endpoints.metrics_port, "/metrics")
        assert "znode_count" in text and "# TYPE process_" not in text

    serve(world, config, body)


def test_default_provider_and_admin_off(world: World, tmp_path: Path) -> None:
    async def default(endpoints: HttpEndpoints, session: aiohttp.ClientSession) -> None:
        assert endpoints.metrics_port is None and endpoints.admin_port is not None
        _, _, text = await get(session, endpoints.admin_port, "/commands/mntr")
        assert "avg_fsynctime" in json.loads(text)

    serve(world, http_config(tmp_path, metrics=False), default)

    async def off(endpoints: HttpEndpoints, session: aiohttp.ClientSession) -> None:
        assert endpoints.admin_port is None and endpoints.metrics_port is not None

    serve(world, http_config(tmp_path, "admin.enableServer=false\n"), off)


def test_command_url_is_configurable(world: World, tmp_path: Path) -> None:
    async def body(endpoints: HttpEndpoints, session: aiohttp.ClientSession) -> None:
        status, _, text = await get(session, endpoints.admin_port, "/zk/admin/ruok")
        assert status == 200 and json.loads(text)["command"] == "ruok"
        _, _, text = await get(session, endpoints.admin_port, "/zk/admin")
        assert '<a href="/zk/admin/ruok">ruok</a>' in text
        status, _, _ = await get(session, endpoints.admin_port, "/commands/ruok")
        assert status == 404

    serve(world, http_config(tmp_path, "admin.commandURL=/zk/admin\n"), body)


def test_a_port_in_use_is_logged_and_skipped(world: World, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        config = http_config(tmp_path, f"admin.serverPort={port}\n")

        async def body(endpoints: HttpEndpoints, session: aiohttp.ClientSession) -> None:
            assert endpoints.admin_port is None and "admin" in endpoints.errors
            status, _, _ = await get(session, endpoints.metrics_port, "/metrics")
            assert status == 200

        serve(world, config, body)


def test_endpoints_close(world: World, tmp_path: Path) -> None:
    ports: list[Any] = []

    async def body(endpoints: HttpEndpoints, session: aiohttp.ClientSession) -> None:
        ports.extend([endpoints.admin_port, endpoints.metrics_port])

    serve(world, http_config(tmp_path), body)
    for port in ports:
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_metrics_object_is_optional(world: World, tmp_path: Path) -> None:
    world.ctx.metrics = None

    async def body(endpoints: HttpEndpoints, session: aiohttp.ClientSession) -> None:
        assert endpoints.context is not None
        assert isinstance(endpoints.context.metrics, ServerMetrics)
        _, _, text = await get(session, endpoints.metrics_port, "/metrics")
        assert "fsynctime_count 0.0" in text

    serve(world, http_config(tmp_path), body)


# ---------------------------------------------------------------- Jackson's layout


def test_jackson_layout_matches_zookeepers_output() -> None:
    # As Apache ZooKeeper 3.8.0 printed `cons` (values shortened).
    value = {"connections": [{"remote_socket_address": "127.0.0.1:47952", "interest_ops": 1}],
             "secure_connections": [], "command": "connections", "error": None}
    assert jackson_json(value) == (
        '{\n  "connections" : [ {\n    "remote_socket_address" : "127.0.0.1:47952",\n'
        '    "interest_ops" : 1\n  } ],\n  "secure_connections" : [ ],\n'
        '  "command" : "connections",\n  "error" : null\n}')
    assert jackson_json({"a": {}, "b": [1, 2], "c": 6.0, "d": {1: ["/e"]}, "e": True}) == (
        '{\n  "a" : { },\n  "b" : [ 1, 2 ],\n  "c" : 6.0,\n  "d" : {\n    "1" : [ "/e" ]\n  },\n'
        '  "e" : true\n}')
    assert jackson_json({"x": 1e7, "y": float("nan"), "z": "é\n"}) == (
        '{\n  "x" : 1.0E7,\n  "y" : "NaN",\n  "z" : "é\\n"\n}')
