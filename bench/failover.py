"""Leader failover time: kill -9 of an ensemble's leader to the first write committed afterwards.

Runs as the last row of an ensemble group in bench/run (the ensemble has served the other rows
and is idle). A kazoo client connected to the two followers only creates a few znodes, the leader
is killed with SIGKILL, and the client then tries a create every few milliseconds (reconnecting
as fast as kazoo's retry allows) until one is acknowledged: the time from the kill to that
acknowledgement is the failover time. It covers noticing the leader is gone, electing a new one,
syncing the remaining follower, the client's reconnect and session revalidation, and one commit.

`bench/failover [--runs N] [--servers apache,zkpy]` is `bench/run --rows ensemble/failover`.
"""

from __future__ import annotations

import logging
import sys
import time

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.retry import KazooRetry

from bench.deploy import EnsembleDeployment

WARM_CREATES = 50
RETRY_PAUSE_S = 0.005
GIVE_UP_S = 60.0
CONNECT_TIMEOUT_S = 30.0
# kazoo logs every dropped connection; the drop is the point of this row, not news
_QUIET_LOG = logging.getLogger("bench.failover.kazoo")
_QUIET_LOG.addHandler(logging.NullHandler())
_QUIET_LOG.propagate = False


def measure_failover(deployment: EnsembleDeployment) -> dict[str, object]:
    """Kills the leader of a started ensemble; returns {"failover_ms", ...} or {"error": ...}."""
    ensemble = deployment.ensemble
    leader = ensemble.leader()
    followers = [sid for sid in ensemble.members if sid != leader]
    client = KazooClient(hosts=ensemble.connect_string(followers), timeout=10.0,
                         connection_retry=KazooRetry(max_tries=-1, delay=0.01, max_delay=0.05),
                         logger=_QUIET_LOG)
    client.start(timeout=CONNECT_TIMEOUT_S)
    try:
        client.ensure_path("/failover")
        for n in range(WARM_CREATES):
            client.create(f"/failover/warm{n}", b"x")
        ensemble.process(leader).kill()
        killed_s = time.monotonic()
        attempts = 0
        while time.monotonic() - killed_s < GIVE_UP_S:
            attempts += 1
            try:  # sequential: a create that committed but lost its reply cannot block the next
                client.create("/failover/after", b"x", sequence=True)
            except KazooException:
                time.sleep(RETRY_PAUSE_S)
                continue
            failover_ms = (time.monotonic() - killed_s) * 1000
            return {"failover_ms": round(failover_ms, 1), "killed_leader": leader, "attempts": attempts,
                    "new_leader": _new_leader(deployment, followers)}
        return {"error": f"no write committed within {GIVE_UP_S:.0f} s after killing leader {leader}"}
    finally:
        client.stop()
        client.close()


def _new_leader(deployment: EnsembleDeployment, sids: list[int]) -> int | None:
    return next((sid for sid in sids if deployment.ensemble.mode(sid) == "leader"), None)


def main(argv: list[str] | None = None) -> int:
    from bench.side_by_side import main as side_by_side

    return side_by_side(["--rows", "ensemble/failover", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
