"""Quota bookkeeping under /zookeeper/quota (ZooKeeper's Quotas, StatsTrack, PathTrie).

A quota on /a is the pair of nodes /zookeeper/quota/a/zookeeper_limits (the limits, written by
clients) and /zookeeper/quota/a/zookeeper_stats (the usage, kept by the server). Creating the
limits node registers /a; creating the stats node fills it with the current count and bytes of
/a's subtree; afterwards every create, delete and setData below /a adjusts the stats node of the
deepest quota above it, in place, without a txn of its own (each replica does the same while
applying the txn). StatsTrack's text form is reproduced exactly, quirks included.
"""

from __future__ import annotations

import re

QUOTA_ROOT = "/zookeeper/quota"
LIMIT_NODE = "zookeeper_limits"
STAT_NODE = "zookeeper_stats"


def parse_stats(data: bytes | None) -> dict[str, int]:
    """StatsTrack(String): `key=value` pairs separated by ',' or ';'."""
    stats: dict[str, int] = {}
    if not data:
        return stats
    for pair in re.split(r"[,;]+", data.decode("utf-8", "replace")):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        try:
            stats[key] = int(value.split("=")[0])
        except ValueError:
            continue
    return stats


def format_stats(stats: dict[str, int]) -> bytes:
    """StatsTrack.toString, including its stray '=' before any extra keys."""
    text = f"count={stats.get('count', -1)},bytes={stats.get('bytes', -1)}"
    extra = sorted(k for k in stats if k not in ("count", "bytes"))
    if extra:
        text += "=" + "".join(f";{key}={stats[key]}" for key in extra)
    return text.encode("utf-8")


def trim_quota_path(quota_path: str) -> str:
    """/zookeeper/quota/a/b -> /a/b"""
    return quota_path[len(QUOTA_ROOT):]


def stat_path(path: str) -> str:
    return f"{QUOTA_ROOT}{path}/{STAT_NODE}"


class QuotaIndex:
    """The paths that carry a quota; `deepest(path)` is PathTrie.findMaxPrefix minus the root."""

    __slots__ = ("paths",)

    def __init__(self) -> None:
        self.paths: set[str] = set()

    def deepest(self, path: str) -> str | None:
        if not self.paths:
            return None
        current = path
        while current:
            if current in self.paths:
                return current if current != "/" else None
            current = current[: current.rfind("/")]
        return None
