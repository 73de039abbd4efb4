"""Chores of a serving process, standalone or in an ensemble: config warnings at start-up,
autopurge of old snapshots and logs, and the container/TTL reaper.

Theory of operation: every server logs what its config asked for and zkpy ignores (so a typo
is seen on every member) and, with autopurge.purgeInterval > 0, purges every interval as
ZooKeeper's DatadirCleanupManager does. The reaper (ContainerManager) runs where writes are
prepared: on a standalone server for its whole life, in an ensemble on the leader while it
serves; its deletes are ordinary txns, so followers learn them from the leader.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from zkpy.server.config import ServerConfig
from zkpy.server.containers import ReaperPolicy
from zkpy.server.runtime.storage import Storage
from zkpy.server.zkserver import ZooKeeperServer

log = structlog.get_logger("zkpy.server")


def log_config_warnings(config: ServerConfig) -> None:
    for warning in config.warnings:
        log.warning("config", detail=warning)
    for key in config.unimplemented_keys():
        log.warning("config key not implemented yet; kept", key=key)
    for key in config.unknown_keys():
        log.info("unknown config key kept as a system property", key=key, property=f"zookeeper.{key}")


def reaper_policy(config: ServerConfig) -> ReaperPolicy:
    """ZooKeeper reads these as JVM flags (znode.container.*); zkpy takes them from zoo.cfg."""
    extra = config.extra
    return ReaperPolicy(
        check_interval_ms=int(extra.get("znode.container.checkIntervalMs", 60_000)),
        max_per_minute=int(extra.get("znode.container.maxPerMinute", 10_000)),
        max_never_used_interval_ms=int(extra.get("znode.container.maxNeverUsedIntervalMs", 0)),
    )


async def reap_containers(config: ServerConfig, core: Callable[[], ZooKeeperServer | None]) -> None:
    """Every check interval, delete the empty containers and expired TTL nodes `core()` holds."""
    policy = reaper_policy(config)
    while True:
        await asyncio.sleep(policy.check_interval_ms / 1000)
        server = core()
        if server is not None:
            server.reap_containers(policy)


async def autopurge(config: ServerConfig, storage: Storage) -> None:
    """Runs forever when autopurge.purgeInterval > 0; returns at once otherwise."""
    interval_s = config.autopurge_purge_interval_hours * 3600
    if interval_s <= 0:
        return
    while True:
        await asyncio.sleep(interval_s)
        purged = await storage.purge_old_files()
        log.info("autopurge", deleted=len(purged), retained_snapshots=storage.retain_count)
