"""The AdminServer and /metrics of running zkpy processes, standalone and in an ensemble.

Names and shapes are checked against Apache ZooKeeper in tests/interop/test_admin_interop.py;
here the point is that a real server serves them, and that leader-only gauges exist only on
the leader of a live ensemble.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.ensemble import Ensemble
from tests.support.servers import ZkpyServer, free_port

pytestmark = pytest.mark.interop

LEADER_ONLY = {"learners", "synced_followers", "synced_observers", "pending_syncs", "leader_uptime"}
FOLLOWER_TOO = {"synced_observers"}
"""A follower registers synced_observers as well (Follower.java: the observers it may serve)."""


def _get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return response.read().decode()


def _endpoint_config() -> dict[str, str]:
    return {
        "admin.enableServer": "true",
        "admin.serverAddress": "127.0.0.1",
        "admin.serverPort": str(free_port()),
        "metricsProvider.className": "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider",
        "metricsProvider.httpHost": "127.0.0.1",
        "metricsProvider.httpPort": str(free_port()),
    }


def _metric_names(port: int) -> dict[str, str]:
    return {family.name: family.type for family in text_string_to_metric_families(_get(port, "/metrics"))}


def test_standalone_server_serves_admin_commands_and_metrics(tmp_path: Path) -> None:
    extra = _endpoint_config()
    with ZkpyServer(tmp_path, extra):
        admin_port = int(extra["admin.serverPort"])
        listing = _get(admin_port, "/commands")
        assert "/commands/ruok" in listing and "/commands/monitor" in listing
        srvr = json.loads(_get(admin_port, "/commands/srvr"))
        assert srvr["command"] == "server_stats" and srvr["error"] is None
        names = _metric_names(int(extra["metricsProvider.httpPort"]))
        assert names["znode_count"] == "gauge"
        assert names["fsynctime"] == "summary"
        assert not any(name.endswith("_total") for name in names)
        assert not LEADER_ONLY & set(names)


def test_leader_only_gauges_live_on_the_leader(tmp_path: Path) -> None:
    configs = [_endpoint_config() for _ in range(3)]
    ensemble = Ensemble(tmp_path, ["zkpy"] * 3)
    for sid, extra in zip(ensemble.members, configs, strict=True):
        ensemble.process(sid).extra_config.update(extra)
    with ensemble:
        leader = ensemble.leader()
        for sid, extra in zip(ensemble.members, configs, strict=True):
            names = set(_metric_names(int(extra["metricsProvider.httpPort"])))
            lead = json.loads(_get(int(extra["admin.serverPort"]), "/commands/leader"))
            assert lead["is_leader"] == (sid == leader)
            assert lead["leader_id"] == leader
            if sid == leader:
                assert LEADER_ONLY <= names
            else:
                assert not (LEADER_ONLY - FOLLOWER_TOO) & names
            assert "quorum_size" in names
