"""HTTP endpoints: the AdminServer (JettyAdminServer) and the Prometheus `/metrics` endpoint.

Theory of operation: `start_http_endpoints` starts up to two aiohttp servers on the event loop
that runs the server core, so every command and scrape reads the core between two client
passes, never in the middle of one.

* AdminServer, unless admin.enableServer=false: on admin.serverAddress:admin.serverPort
  (0.0.0.0:8080), under admin.commandURL (/commands). `GET /commands` (or `/commands/`) lists
  the commands' primary names as HTML links; `GET /commands/<name>` runs the command (any name
  or alias) with the query parameters as its arguments (the first value of each) and answers
  200 with `application/json` in Jackson's pretty-printed layout, also for unknown commands and
  for errors, which are in the body's "error" field. admin.idleTimeout (ms) closes idle
  keep-alive connections. HEAD works as for any GET; other methods get 405.
* Metrics, when metricsProvider.className names ZooKeeper's
  org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider or zkpy's own
  `zkpy.metrics.prometheus` (the same exposition under a name that does not pretend to be a Java
  class): on metricsProvider.httpHost:metricsProvider.httpPort (0.0.0.0:7000), `GET /metrics`
  (also POST, as the Java servlet), text format 0.0.4, with `name[]` parameters to select
  families. metricsProvider.exportJvmInfo=false leaves out the process_*/python_* families.

A port that cannot be bound is logged as an error and that endpoint stays off while the
server goes on serving clients; `HttpEndpoints.errors` says which failed so the caller can
decide otherwise. (ZooKeeper's quorum peers carry on the same way when the AdminServer fails;
its standalone server exits with code 4, and a metrics port it cannot bind stops any server.)
The AdminServer serves plain HTTP only: admin.portUnification and admin.forceHttps are not
supported.
"""

from __future__ import annotations

import json
import math
import socket
from collections.abc import Mapping

import structlog
from aiohttp import web

from zkpy.server import admin_commands
from zkpy.server.admin_commands import AdminContext, QuorumView
from zkpy.server.config import ServerConfig
from zkpy.server.fourletter import FourLetterContext, java_double
from zkpy.server.metrics import (
    CONTENT_TYPE_004,
    PrometheusExport,
    ServerMetrics,
    prometheus_enabled,
)

log = structlog.get_logger("zkpy.admin")

DEFAULT_COMMAND_URL = "/commands"
DEFAULT_IDLE_TIMEOUT_MS = 30_000
JSON_CONTENT_TYPE = "application/json"
_BACKLOG = 50


class HttpEndpoints:
    """The running endpoints; `close()` stops them. A port is None when that endpoint is off."""

    def __init__(self) -> None:
        self.admin_port: int | None = None
        self.metrics_port: int | None = None
        self.errors: dict[str, str] = {}
        """Why an endpoint ("admin", "metrics") could not start."""
        self.context: AdminContext | None = None
        """What the commands read; its monitor fields also suit the 4lw `mntr`."""
        self._runners: list[web.AppRunner] = []

    async def close(self) -> None:
        runners, self._runners = self._runners, []
        for runner in runners:
            await runner.cleanup()


# ---------------------------------------------------------------- Jackson's layout


def jackson_json(value: object) -> str:
    """JSON as ZooKeeper's JsonOutputter writes it (Jackson, INDENT_OUTPUT): `"key" : value`,
    two spaces per object level, arrays inline (`[ 1, 2 ]`, `[ ]`), `{ }` when empty, map keys
    as strings, doubles as Java prints them, no newline at the end."""
    out: list[str] = []
    _write(value, 0, out)
    return "".join(out)


def _write(value: object, level: int, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True or value is False:
        out.append("true" if value else "false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(java_double(value) if math.isfinite(value) else f'"{_non_finite(value)}"')
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, Mapping):
        if not value:
            out.append("{ }")
            return
        inner = "\n" + "  " * (level + 1)
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            name = json.dumps(str(key), ensure_ascii=False)
            out.append(f"{',' if i else ''}{inner}{name} : ")
            _write(item, level + 1, out)
        out.append("\n" + "  " * level + "}")
    elif isinstance(value, (list, tuple, set, frozenset)):
        if not value:
            out.append("[ ]")
            return
        out.append("[ ")
        for i, item in enumerate(value):
            if i:
                out.append(", ")
            _write(item, level, out)
        out.append(" ]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _non_finite(value: float) -> str:
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


# ---------------------------------------------------------------- handlers


def _first_values(request: web.Request) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in request.query.items():
        params.setdefault(key, value)
    return params


def _admin_app(ctx: AdminContext, command_url: str) -> web.Application:
    links = "".join(f'<a href="{command_url}/{name}">{name}</a>\n<br/>\n'
                    for name in admin_commands.primary_names())

    async def list_commands(request: web.Request) -> web.Response:
        return web.Response(text=links, content_type="text/html")

    async def run(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if not name:
            return await list_commands(request)
        result = admin_commands.run_command(name, ctx, _first_values(request))
        return web.Response(body=jackson_json(result).encode(), content_type=JSON_CONTENT_TYPE)

    app = web.Application()
    app.router.add_get(command_url or "/", list_commands)
    app.router.add_get(command_url + "/{name:.*}", run)
    return app


def _metrics_app(export: PrometheusExport) -> web.Application:
    async def scrape(request: web.Request) -> web.Response:
        names = request.query.getall("name[]", [])
        body = export.text(names).encode()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_004})

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    app.router.add_post("/metrics", scrape)
    return app


# ---------------------------------------------------------------- start-up


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(_BACKLOG)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def _serve(endpoints: HttpEndpoints, kind: str, app: web.Application, host: str, port: int,
                 keepalive_timeout_s: float) -> int | None:
    try:
        sock = _bind(host, port)
    except OSError as error:
        endpoints.errors[kind] = str(error)
        log.error("cannot start the HTTP endpoint; going on without it", endpoint=kind,
                  address=host, port=port, error=str(error))
        return None
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=keepalive_timeout_s)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    endpoints._runners.append(runner)
    return int(sock.getsockname()[1])


async def start_http_endpoints(
    config: ServerConfig,
    context: FourLetterContext,
    quorum: QuorumView | None = None,
    *,
    metrics: ServerMetrics | None = None,
    initial_config: str | None = None,
) -> HttpEndpoints:
    """Starts the AdminServer and the metrics endpoint as `config` asks; see the module doc.

    `metrics` is the server's ServerMetrics (a fresh one if None: the gauges still work);
    `initial_config` is zoo.cfg's text as read at start-up, for `initial_configuration`."""
    endpoints = HttpEndpoints()
    ctx = AdminContext(context, quorum, metrics if metrics is not None else ServerMetrics(),
                       initial_config=initial_config)
    endpoints.context = ctx
    extra = config.extra
    if prometheus_enabled(config):
        export_process = extra.get("metricsProvider.exportJvmInfo", "true").lower() == "true"
        ctx.prometheus = PrometheusExport(ctx, export_process_info=export_process)
        endpoints.metrics_port = await _serve(
            endpoints, "metrics", _metrics_app(ctx.prometheus), config.metrics_provider_http_host,
            config.metrics_provider_http_port, DEFAULT_IDLE_TIMEOUT_MS / 1000)
        if endpoints.metrics_port is not None:
            log.info("metrics endpoint started", address=config.metrics_provider_http_host,
                     port=endpoints.metrics_port, path="/metrics")
    if config.admin_enable_server:
        command_url = extra.get("admin.commandURL", DEFAULT_COMMAND_URL).rstrip("/")
        idle_timeout_ms = int(extra.get("admin.idleTimeout", DEFAULT_IDLE_TIMEOUT_MS))
        endpoints.admin_port = await _serve(
            endpoints, "admin", _admin_app(ctx, command_url), config.admin_server_address,
            config.admin_server_port, idle_timeout_ms / 1000)
        if endpoints.admin_port is not None:
            log.info("admin server started", address=config.admin_server_address,
                     port=endpoints.admin_port, command_url=command_url)
    return endpoints
