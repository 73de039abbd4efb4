"""docs/migration.md, run: three Apache ZooKeeper servers become three zkpy servers, one at a
time, under a client write load, without losing a write.

The steps are the operator's: check the ensemble is healthy; for each follower, then the leader,
stop the Apache server (SIGTERM, as `zkServer.sh stop` sends; a second run uses kill -9, which
the guide says works too), start zkpy on the same zoo.cfg and dataDir, wait until
`zkpy-server status` reports it following (or leading) and the leader's `mntr` counts every
follower as synced, and until the writers make progress again; then verify; then take the
rollback path once (one member back to Apache ZooKeeper on the dataDir zkpy wrote). After each
step the migrated server must hold every write acknowledged before that step, so a failure
names the step that lost data.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from tests.support.ensemble import Ensemble
from tests.support.migration import WriteLoad, mntr, relaunch, srvr
from tests.support.servers import ZKPY_SERVER, apache_zookeeper_available

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not apache_zookeeper_available(),
                       reason="Debian's zookeeper package is not installed"),
    pytest.mark.timeout(240),
]

SERVERS = 3
STEP_TIMEOUT_S = 60.0
"""Per wait: a JVM start, an election or a sync on two busy cores takes seconds, not a minute."""
PROGRESS_WRITES = 30


def _wait(what: str, condition: Callable[[], bool], timeout_s: float = STEP_TIMEOUT_S,
          ensemble: Ensemble | None = None, sids: list[int] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if ensemble is not None:
            for sid in sids or []:
                ensemble.process(sid).check_alive()
        if time.monotonic() > deadline:
            tails = "" if ensemble is None else "\n".join(
                f"--- server {sid} ({ensemble.members[sid].kind}) ---\n"
                f"{ensemble.process(sid).log_tail(60)}" for sid in sids or [])
            raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}\n{tails}")
        time.sleep(0.1)


def _zkpy_status(ensemble: Ensemble, sid: int) -> str:
    """`bin/zkpy-server status <zoo.cfg>`, as the operator types it; the Mode line's value."""
    result = subprocess.run([str(ZKPY_SERVER), "status", str(ensemble.process(sid).config_path)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, f"zkpy-server status failed: {result.stdout}{result.stderr}"
    return result.stdout.rsplit("Mode: ", 1)[1].strip()


def _synced_followers(ensemble: Ensemble, leader: int) -> int:
    return int(mntr(ensemble.process(leader).port).get("synced_followers", "-1"))


def _children_via(ensemble: Ensemble, sid: int, path: str) -> set[str]:
    """Children of `path` read through server `sid` alone, after a sync."""
    client = KazooClient(hosts=ensemble.process(sid).address, timeout=30.0)
    client.start(timeout=30)
    try:
        client.sync(path)
        return {f"{path}/{name}" for name in client.get_children(path)}
    finally:
        client.stop()
        client.close()


def _assert_has_all(ensemble: Ensemble, sid: int, path: str, acknowledged: list[str],
                    step: str) -> None:
    present = _children_via(ensemble, sid, path)
    missing = [p for p in acknowledged if p not in present]
    assert not missing, (f"after {step}: server {sid} ({ensemble.members[sid].kind}) lacks "
                         f"{len(missing)} of {len(acknowledged)} acknowledged writes, "
                         f"e.g. {missing[:3]}")


def _assert_no_tracebacks(ensemble: Ensemble) -> None:
    """zkpy logs decisions; an exception that escaped to the event loop is a bug even when the
    ensemble recovers from it."""
    for sid, member in ensemble.members.items():
        log = member.process.workdir / "zkpy.log" if member.process else None
        if log is None or not log.exists():
            continue
        lines = log.read_text(errors="replace").splitlines()
        hits = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
        assert not hits, (f"server {sid}'s zkpy log has {len(hits)} traceback(s), the first:\n"
                          + "\n".join(lines[max(hits[0] - 3, 0):hits[0] + 25]))


def _migrate(ensemble: Ensemble, load: WriteLoad, sid: int, kind: str, step: str,
             timings: dict[str, float], kill_9: bool) -> None:
    """One member to `kind`, then the operator's checks; records how long each phase took."""
    started = time.monotonic()
    acknowledged = load.snapshot()
    sids = list(ensemble.members)
    relaunch(ensemble, sid, kind, kill_9=kill_9)
    _wait(f"server {sid} to serve as {kind}",
          lambda: srvr(ensemble.process(sid).port).get("Mode") in ("follower", "leader"),
          ensemble=ensemble, sids=[sid])
    modes = ensemble.wait_modes(STEP_TIMEOUT_S, sids)
    leader = next(s for s, mode in modes.items() if mode == "leader")
    if kind == "zkpy":
        assert _zkpy_status(ensemble, sid) == modes[sid]
    _wait(f"leader {leader} to count {SERVERS - 1} synced followers",
          lambda: _synced_followers(ensemble, leader) == SERVERS - 1, ensemble=ensemble, sids=sids)
    timings[f"{step}: serving"] = time.monotonic() - started
    timings[f"{step}: writes resumed"] = load.wait_for_progress(PROGRESS_WRITES, STEP_TIMEOUT_S)
    _assert_has_all(ensemble, sid, load.load_path, acknowledged, step)


@pytest.mark.parametrize("kill_9", [False, True], ids=["zkServer.sh-stop", "kill-9"])
def test_rolling_migration_from_apache_zookeeper_to_zkpy(tmp_path: Path, kill_9: bool) -> None:
    timings: dict[str, float] = {}
    began = time.monotonic()
    ensemble = Ensemble(tmp_path, ["apache"] * SERVERS)
    load: WriteLoad | None = None
    try:
        # 1. Health: one leader, every follower synced, writes flowing.
        ensemble.start(timeout_s=90)
        configs = {sid: ensemble.process(sid).config_path.read_text() for sid in ensemble.members}
        modes = ensemble.wait_modes(STEP_TIMEOUT_S)
        original_leader = next(sid for sid, mode in modes.items() if mode == "leader")
        _wait("the Apache leader to count every follower as synced",
              lambda: _synced_followers(ensemble, original_leader) == SERVERS - 1)
        load = WriteLoad(ensemble.connect_string()).start()
        load.wait_for_progress(PROGRESS_WRITES, STEP_TIMEOUT_S)
        timings["apache ensemble up, load running"] = time.monotonic() - began

        # 2. Followers one at a time, then 3. the leader: its stop elects a zkpy leader.
        order = sorted(sid for sid in modes if sid != original_leader) + [original_leader]
        for sid in order:
            role = "leader" if sid == original_leader else "follower"
            _migrate(ensemble, load, sid, "zkpy", f"server {sid} ({role}) to zkpy", timings,
                     kill_9)
            if sid == original_leader:
                assert ensemble.members[ensemble.leader()].kind == "zkpy"

        # 4. Verify: all zkpy on their untouched zoo.cfg, one leader, every acknowledged write
        # on every server, the same tree everywhere, the sessions opened on Apache ZooKeeper alive.
        phase_began = time.monotonic()
        load.stop()
        load.check_healthy()
        acknowledged = load.snapshot()
        modes = ensemble.wait_modes(STEP_TIMEOUT_S)
        assert all(member.kind == "zkpy" for member in ensemble.members.values())
        for sid, text in configs.items():
            assert ensemble.process(sid).config_path.read_text() == text, f"server {sid}'s zoo.cfg"
        assert sorted(modes.values()) == ["follower"] * (SERVERS - 1) + ["leader"]
        for sid in ensemble.members:
            _assert_has_all(ensemble, sid, load.load_path, acknowledged, "the migration")

        def same_tree_everywhere() -> bool:
            views = [srvr(ensemble.process(sid).port) for sid in ensemble.members]
            return all(views) and len({(v["Zxid"], v["Node count"]) for v in views}) == 1
        _wait("the same zxid and node count on every server", same_tree_everywhere)

        for writer in load.members:
            assert writer.sessions_lost == 0, f"writer {writer.name} lost its session"
            assert writer.client.client_id[0] == writer.session_id
            for sid in ensemble.members:
                assert writer.ephemeral_path in _children_via(ensemble, sid, load.alive_path)
            stat = writer.client.exists(writer.ephemeral_path)
            assert stat is not None and stat.ephemeralOwner == writer.session_id
        timings["verify"] = time.monotonic() - phase_began

        # 5. Rollback drill: a zkpy follower goes back to Apache ZooKeeper on the dataDir zkpy
        # wrote, syncs from the zkpy leader, has every write and takes new ones.
        phase_began = time.monotonic()
        leader = next(sid for sid, mode in modes.items() if mode == "leader")
        follower = next(sid for sid, mode in modes.items() if mode == "follower")
        relaunch(ensemble, follower, "apache")
        _wait(f"server {follower} to serve as Apache ZooKeeper again",
              lambda: srvr(ensemble.process(follower).port).get("Mode") == "follower",
              ensemble=ensemble, sids=[follower])
        _wait(f"leader {leader} to count {SERVERS - 1} synced followers",
              lambda: _synced_followers(ensemble, leader) == SERVERS - 1,
              ensemble=ensemble, sids=list(ensemble.members))
        _assert_has_all(ensemble, follower, load.load_path, acknowledged, "the rollback")
        client = KazooClient(hosts=ensemble.process(follower).address, timeout=30.0)
        client.start(timeout=30)
        try:
            client.create(f"{load.root}/after-rollback")
        finally:
            client.stop()
            client.close()
        assert f"{load.root}/after-rollback" in _children_via(ensemble, leader, load.root)
        timings["rollback drill"] = time.monotonic() - phase_began
        _assert_no_tracebacks(ensemble)
    finally:
        if load is not None:
            load.close()
        ensemble.stop()
        timings["total"] = time.monotonic() - began
        summary = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in timings.items())
        print(f"\nmigration timings: {summary}; "
              f"{load.count() if load else 0} writes acknowledged, "
              f"{sum(w.retries for w in load.members) if load else 0} retried, "
              f"longest write outage {load.longest_gap_s if load else 0:.2f}s")
