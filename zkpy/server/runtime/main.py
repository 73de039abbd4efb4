"""Process entry point of a standalone server: event loop, listener, timers, signals.

Theory of operation: this is the only place (with client_port) that touches asyncio. It builds
the server core from the config, listens on the client port, hands the core's proposed txns
back to it as committed once per loop iteration (group commit; the persistence layer will sit
here), drives session expiry from a timer, and stops cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import structlog
import uvloop

from zkpy.server import fourletter
from zkpy.server.config import ServerConfig
from zkpy.server.containers import ReaperPolicy
from zkpy.server.logs import configure_logging
from zkpy.server.prep import PrepPolicy
from zkpy.server.runtime import tls
from zkpy.server.runtime.client_port import ClientConnection
from zkpy.server.version import ZOOKEEPER_VERSION
from zkpy.server.zkserver import ServerSettings, ZooKeeperServer

log = structlog.get_logger("zkpy.main")

EXPIRY_CHECK_INTERVAL_S = 0.1


def settings_from(config: ServerConfig) -> ServerSettings:
    return ServerSettings(
        tick_ms=config.tick_time_ms,
        min_session_timeout_ms=config.effective_min_session_timeout_ms,
        max_session_timeout_ms=config.effective_max_session_timeout_ms,
        # ZooKeeperServer.createSessionTrackerServerId: a standalone server stamps 1 into the
        # high byte of its session ids.
        server_id=1,
        max_outstanding_per_connection=config.global_outstanding_limit,
        super_digest=config.super_digest,
        prep=PrepPolicy(
            extended_types_enabled=config.extended_types_enabled,
            reconfig_enabled=config.reconfig_enabled,
            standalone=True,
            skip_acl=config.skip_acl,
        ),
    )


def reaper_policy(config: ServerConfig) -> ReaperPolicy:
    """ZooKeeper reads these as JVM flags (znode.container.*); zkpy takes them from zoo.cfg."""
    extra = config.extra
    return ReaperPolicy(
        check_interval_ms=int(extra.get("znode.container.checkIntervalMs", 60_000)),
        max_per_minute=int(extra.get("znode.container.maxPerMinute", 10_000)),
        max_never_used_interval_ms=int(extra.get("znode.container.maxNeverUsedIntervalMs", 0)),
    )


class StandaloneServer:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.core = ZooKeeperServer(settings_from(config))
        self.four_letter = fourletter.FourLetterContext(
            self.core, config, lambda: "standalone", time.monotonic()
        )
        self._ip_counts: dict[str, int] = {}
        self._commit_scheduled = False
        self._stopped = asyncio.Event()

    def _schedule_commit(self) -> None:
        if not self._commit_scheduled:
            self._commit_scheduled = True
            asyncio.get_running_loop().call_soon(self._commit)

    def _commit(self) -> None:
        self._commit_scheduled = False
        core = self.core
        for header, txn in core.take_proposals():
            core.commit(header, txn)

    async def _expire_sessions(self) -> None:
        while True:
            await asyncio.sleep(EXPIRY_CHECK_INTERVAL_S)
            self.core.tick()

    async def _reap_containers(self) -> None:
        policy = reaper_policy(self.config)
        while True:
            await asyncio.sleep(policy.check_interval_ms / 1000)
            self.core.reap_containers(policy)

    def _protocol(self) -> ClientConnection:
        return ClientConnection(self.core, self.four_letter, self.config.jute_max_buffer,
                                self.config.max_client_cnxns, self._ip_counts)

    async def serve(self) -> int:
        loop = asyncio.get_running_loop()
        self.core.on_proposals = self._schedule_commit
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stopped.set)
        if self.config.client_port is None:
            log.error("no client port configured", hint="set clientPort in zoo.cfg")
            return 2
        try:
            listener = await loop.create_server(
                self._protocol, host=self.config.client_port_address, port=self.config.client_port,
                reuse_address=True, backlog=1024,
            )
        except OSError as error:
            log.error("cannot listen on the client port", port=self.config.client_port, error=str(error))
            return 1
        secure_port = self.config.extra.get("secureClientPort")
        if secure_port and int(secure_port) > 0:
            try:
                context = tls.server_context(self.config.extra)
                await loop.create_server(
                    self._protocol, host=self.config.extra.get("secureClientPortAddress"),
                    port=int(secure_port), ssl=context, reuse_address=True, backlog=1024,
                )
            except (OSError, ValueError) as error:
                log.error("cannot serve the secure client port", port=secure_port, error=str(error))
                return 1
            log.info("serving TLS", port=int(secure_port))
        for warning in self.config.warnings:
            log.warning("config", detail=warning)
        for key in self.config.unimplemented_keys():
            log.warning("config key not implemented yet; kept", key=key)
        for key in self.config.unknown_keys():
            log.info("unknown config key kept as a system property", key=key, property=f"zookeeper.{key}")
        log.info("serving", version=ZOOKEEPER_VERSION, mode="standalone",
                 address=self.config.client_port_address or "0.0.0.0", port=self.config.client_port)
        timers = [asyncio.create_task(self._expire_sessions()), asyncio.create_task(self._reap_containers())]
        await self._stopped.wait()
        log.info("shutting down")
        for timer in timers:
            timer.cancel()
        listener.close()
        for conn in list(self.core.connections):
            conn.close("server shutting down")
        await listener.wait_closed()
        return 0


def run(config: ServerConfig, config_path: Path) -> int:
    """Runs a server on `config` until SIGTERM/SIGINT; returns the process exit code."""
    configure_logging()
    log.info("starting", config=str(config_path))
    return uvloop.run(StandaloneServer(config).serve())
