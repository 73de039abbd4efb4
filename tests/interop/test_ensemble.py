"""Ensembles on loopback: zkpy alone (3 and 5 servers) and mixed with Apache ZooKeeper 3.8.

Each case writes through every member, reads everything back through every member, kills the
leader with SIGKILL, waits for a new leader among the survivors and writes again. The mixed
cases put the leader on either side: with equal histories the election picks the largest sid,
so the member order decides whether zkpy or Apache ZooKeeper leads first.
"""

from __future__ import annotations

import struct
import threading
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionLoss, KazooException, SessionExpiredError
from kazoo.protocol.serialization import Create2
from kazoo.security import OPEN_ACL_UNSAFE

from tests.support.ensemble import Ensemble
from tests.support.servers import apache_zookeeper_available

pytestmark = pytest.mark.interop

CONTAINER_FLAGS = 4
PERSISTENT_WITH_TTL_FLAGS = 5

needs_apache = pytest.mark.skipif(not apache_zookeeper_available(), reason="Debian's zookeeper package is not installed")


def _client(ensemble: Ensemble, sid: int) -> KazooClient:
    client = KazooClient(hosts=ensemble.process(sid).address, timeout=10.0)
    client.start(timeout=20)
    return client


def _write_and_read_everywhere(ensemble: Ensemble, sids: list[int], tag: str) -> None:
    for sid in sids:
        client = _client(ensemble, sid)
        try:
            client.ensure_path(f"/{tag}")
            client.create(f"/{tag}/via{sid}", f"{tag}-{sid}".encode())
        finally:
            client.stop()
            client.close()
    expected = {f"via{sid}": f"{tag}-{sid}".encode() for sid in sids}
    for sid in sids:
        client = _client(ensemble, sid)
        try:
            client.sync(f"/{tag}")
            seen = {name: client.get(f"/{tag}/{name}")[0] for name in client.get_children(f"/{tag}")}
        finally:
            client.stop()
            client.close()
        assert seen == expected, f"server {sid} ({ensemble.members[sid].kind})"


def _fail_over(ensemble: Ensemble) -> tuple[int, int]:
    old = ensemble.leader()
    ensemble.process(old).kill()
    survivors = [sid for sid in ensemble.members if sid != old]
    modes = ensemble.wait_modes(60, survivors)
    new = next(sid for sid, mode in modes.items() if mode == "leader")
    return old, new


@pytest.mark.parametrize("size", [3, 5])
def test_zkpy_ensemble_replicates_and_fails_over(tmp_path: Path, size: int) -> None:
    with Ensemble(tmp_path, ["zkpy"] * size) as ensemble:
        sids = list(ensemble.members)
        modes = ensemble.wait_modes(30)
        assert sorted(modes.values()) == sorted(["leader"] + ["follower"] * (size - 1))
        _write_and_read_everywhere(ensemble, sids, "before")
        old, new = _fail_over(ensemble)
        assert new != old
        _write_and_read_everywhere(ensemble, [sid for sid in sids if sid != old], "after")


@needs_apache
@pytest.mark.parametrize(
    "kinds",
    [
        ["zkpy", "zkpy", "apache"],  # two zkpy + one Apache, Apache leads first
        ["apache", "zkpy", "zkpy"],  # two zkpy + one Apache, zkpy leads first
        ["zkpy", "apache", "apache"],  # one zkpy + two Apache, Apache leads first
        ["apache", "apache", "zkpy"],  # one zkpy + two Apache, zkpy leads first
    ],
    ids=["2zkpy-1apache-apache-leads", "2zkpy-1apache-zkpy-leads",
         "1zkpy-2apache-apache-leads", "1zkpy-2apache-zkpy-leads"],
)
def test_mixed_ensemble_with_apache_zookeeper(tmp_path: Path, kinds: list[str]) -> None:
    with Ensemble(tmp_path, kinds) as ensemble:
        sids = list(ensemble.members)
        assert ensemble.leader() == 3
        _write_and_read_everywhere(ensemble, sids, "before")
        old, new = _fail_over(ensemble)
        assert ensemble.members[new].kind in ("zkpy", "apache")
        _write_and_read_everywhere(ensemble, [sid for sid in sids if sid != old], "after")


def test_observer_follows_writes(tmp_path: Path) -> None:
    with Ensemble(tmp_path, ["zkpy", "zkpy", "zkpy", "zkpy"], observers=frozenset({4})) as ensemble:
        assert ensemble.wait_modes(30)[4] == "observer"
        _write_and_read_everywhere(ensemble, [1, 2, 3, 4], "observed")


def test_kill_leader_under_load_loses_no_acknowledged_write(tmp_path: Path) -> None:
    """Writers on the followers keep writing while the leader is killed; every create that
    was acknowledged must be on every survivor afterwards."""
    with Ensemble(tmp_path, ["zkpy", "zkpy", "zkpy"]) as ensemble:
        leader = ensemble.leader()
        followers = [sid for sid in ensemble.members if sid != leader]
        acked: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()

        def writer(sid: int, name: str) -> None:
            client = KazooClient(hosts=ensemble.connect_string(followers), timeout=10.0)
            client.start(timeout=20)
            client.ensure_path("/load")
            n = 0
            while not stop.is_set():
                path = f"/load/{name}-{n:06d}"
                try:
                    client.create(path, b"x")
                except (ConnectionLoss, SessionExpiredError, KazooException):
                    time.sleep(0.02)
                    continue
                with lock:
                    acked.append(path)
                n += 1
            client.stop()
            client.close()

        threads = [threading.Thread(target=writer, args=(sid, f"w{sid}-{i}")) for sid in followers for i in range(2)]
        for thread in threads:
            thread.start()
        time.sleep(2.0)
        with lock:
            before_kill = len(acked)
        ensemble.process(leader).kill()
        ensemble.wait_modes(60, followers)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with lock:
                if len(acked) > before_kill + 50:
                    break
            time.sleep(0.1)
        stop.set()
        for thread in threads:
            thread.join(30)
        assert before_kill > 0
        assert len(acked) > before_kill, "writes did not resume after the failover"
        for sid in followers:
            client = _client(ensemble, sid)
            try:
                client.sync("/load")
                present = {f"/load/{name}" for name in client.get_children("/load")}
            finally:
                client.stop()
                client.close()
            missing = [p for p in acked if p not in present]
            assert not missing, f"server {sid} lost {len(missing)} acknowledged writes, e.g. {missing[:3]}"


class _CreateContainer(Create2):
    """createContainer (opcode 19): kazoo has no call for it; the request is create2's."""

    type = 19


class _CreateTTL(Create2):
    """createTTL (opcode 21): create2's request followed by the TTL in ms."""

    type = 21

    def serialize(self) -> bytearray:
        return super().serialize() + struct.pack(">q", 200)


def _raw_create(client: KazooClient, request: Create2) -> None:
    result = client.handler.async_result()
    client._call(request, result)
    result.get(timeout=10)


@pytest.mark.timeout(120)
def test_the_leader_reaps_empty_containers_and_expired_ttl_nodes_for_the_ensemble(tmp_path: Path) -> None:
    config = {"znode.container.checkIntervalMs": "300", "extendedTypesEnabled": "true"}
    with Ensemble(tmp_path, ["zkpy"] * 3, extra_config=config) as ensemble:
        follower = min(sid for sid in ensemble.members if sid != ensemble.leader())
        client = _client(ensemble, follower)
        try:
            _raw_create(client, _CreateContainer("/box", b"", OPEN_ACL_UNSAFE, CONTAINER_FLAGS))
            client.create("/box/item")
            client.delete("/box/item")
            _raw_create(client, _CreateTTL("/short", b"", OPEN_ACL_UNSAFE, PERSISTENT_WITH_TTL_FLAGS))
            assert client.exists("/short") is not None
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and (client.exists("/box") or client.exists("/short")):
                time.sleep(0.2)
        finally:
            client.stop()
        for sid in ensemble.members:
            reader = _client(ensemble, sid)
            try:
                reader.sync("/")
                assert reader.exists("/box") is None and reader.exists("/short") is None, sid
            finally:
                reader.stop()
