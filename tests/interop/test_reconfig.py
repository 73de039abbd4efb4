"""Dynamic reconfiguration (reconfigEnabled=true) on zkpy, Apache ZooKeeper 3.8 and mixed ensembles.

The same walk runs on four 3-server ensembles: all Apache (the reference: if Apache ZooKeeper
behaved differently, this case would fail first), all zkpy, and mixed with the leader on either
side (the largest sid leads first). It checks /zookeeper/config after the first election (the
configuration takes the version of NEWLEADER's zxid), refused reconfigs (bad input, no super
user, a stale config version), then adds a fourth server, a zkpy observer, with an incremental
reconfig sent through a follower, checks that it syncs and serves, removes it again, and
restarts a follower, which must come back with the configuration in force.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import BadArgumentsError, BadVersionError, NoAuthError

from tests.support.ensemble import Ensemble, listen_port
from tests.support.servers import ZkpyServer, apache_zookeeper_available, four_letter_word

pytestmark = pytest.mark.interop

SUPER_DIGEST = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
"""The superuser `super` with password `test` (kazoo's test harness uses the same)."""

_RECONFIG_CONFIG = {"reconfigEnabled": "true", "DigestAuthenticationProvider.superDigest": SUPER_DIGEST}

_KINDS = {
    "apache": ["apache"] * 3,
    "zkpy": ["zkpy"] * 3,
    "zkpy-leader-apache-followers": ["apache", "apache", "zkpy"],
    "apache-leader-zkpy-followers": ["zkpy", "zkpy", "apache"],
}


def _client(address: str, *, super_user: bool = False) -> KazooClient:
    auth = [("digest", "super:test")] if super_user else None
    client = KazooClient(hosts=address, timeout=10.0, auth_data=auth)
    client.start(timeout=20)
    return client


def _config_of(address: str) -> tuple[bytes, object]:
    client = _client(address)
    try:
        client.sync("/zookeeper/config")
        return client.get("/zookeeper/config")
    finally:
        client.stop()


def _version(config: bytes) -> int:
    return int(config.decode().rsplit("version=", 1)[1], 16)


def _wait_for(condition, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _observer(workdir: Path, ensemble: Ensemble) -> tuple[ZkpyServer, str]:
    """A zkpy server 4 configured as an observer of the ensemble plus itself, not started."""
    quorum_port, election_port = listen_port(), listen_port()
    observer = ZkpyServer(workdir / "server4", dict(_RECONFIG_CONFIG), port=listen_port())
    line = f"127.0.0.1:{quorum_port}:{election_port}:observer;127.0.0.1:{observer.port}"
    servers = {f"server.{m.sid}": m.server_line for m in ensemble.members.values()}
    observer.extra_config.update({"initLimit": "10", "syncLimit": "5", **servers,
                                  "server.4": line, "peerType": "observer"})
    return observer, f"server.4={line}"


@pytest.mark.timeout(240)
@pytest.mark.parametrize("case", list(_KINDS))
def test_reconfig_adds_and_removes_an_observer(tmp_path: Path, case: str) -> None:
    kinds = _KINDS[case]
    if "apache" in kinds and not apache_zookeeper_available():
        pytest.skip("Debian's zookeeper package is not installed")
    with Ensemble(tmp_path, kinds, extra_config=_RECONFIG_CONFIG) as ensemble:
        ensemble.wait_modes(60)
        leader = ensemble.leader()
        follower = min(sid for sid in ensemble.members if sid != leader)
        address = ensemble.process(follower).address

        configs = {sid: _config_of(ensemble.process(sid).address) for sid in ensemble.members}
        first_data, first_stat = configs[leader]
        assert all(data == first_data for data, _ in configs.values()), configs
        for sid, member in ensemble.members.items():
            assert f"server.{sid}={member.server_line}".encode() in first_data
        version = _version(first_data)
        assert version >> 32 >= 1 and version & 0xFFFFFFFF == 0, first_data  # NEWLEADER's zxid
        assert (first_stat.version, first_stat.mzxid) == (-1, version)

        observer, joining = _observer(tmp_path, ensemble)
        plain = _client(address)
        admin = _client(address, super_user=True)
        try:
            with pytest.raises(BadArgumentsError):
                plain.reconfig(joining="some thing", leaving=None, new_members=None)
            with pytest.raises(NoAuthError):
                plain.reconfig(joining=joining, leaving=None, new_members=None)

            data, stat = admin.reconfig(joining=joining, leaving=None, new_members=None)
            assert joining.encode() in data
            added = _version(data)
            assert added > version and stat.mzxid == added and stat.version == -1
            for sid in ensemble.members:
                _wait_for(lambda sid=sid: _config_of(ensemble.process(sid).address)[0] == data, 30,
                          f"server {sid} to show the new configuration")

            observer.write_config()
            (observer.data_dir / "myid").write_text("4\n")
            observer.start_detached()
            try:
                _wait_for(lambda: ensemble_mode(observer) == "observer", 60, "the observer to sync")
                admin.create("/after-join", b"seen")
                reader = _client(observer.address)
                try:
                    reader.sync("/after-join")
                    assert reader.get("/after-join")[0] == b"seen"
                finally:
                    reader.stop()

                data, _ = admin.reconfig(joining=None, leaving="4", new_members=None)
                assert joining.encode() not in data and _version(data) > added
                with pytest.raises(BadVersionError):
                    admin.reconfig(joining=joining, leaving=None, new_members=None,
                                   from_config=_version(data) + 1)
            finally:
                observer.stop()
        finally:
            plain.stop()
            admin.stop()

        ensemble.process(follower).kill()
        ensemble.process(follower).start_detached()  # on its (possibly rewritten) zoo.cfg
        ensemble.wait_modes(60)
        _wait_for(lambda: _config_of(ensemble.process(follower).address)[0] == data, 30,
                  "the restarted follower to show the configuration in force")
        if kinds[follower - 1] == "zkpy":
            static = ensemble.process(follower).config_path.read_text()
            assert "dynamicConfigFile=" in static and not re.search(r"^server\.", static, re.MULTILINE)


def ensemble_mode(process: ZkpyServer) -> str | None:
    try:
        text = four_letter_word(process.port, "srvr", timeout_s=2.0)
    except OSError:
        return None
    match = re.search(r"^Mode: (\S+)", text, re.MULTILINE)
    return match.group(1) if match else None
