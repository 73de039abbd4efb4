"""Leader failover time, zkpy vs Apache ZooKeeper: kill -9 of the leader to the first committed write.

For each server kind, a 3-server ensemble on loopback (tests.support.ensemble) serves a kazoo
client connected to the two followers that writes continuously; the leader is killed with
SIGKILL and the time from the kill to the first create acknowledged afterwards is recorded.
The ensemble is rebuilt for each run; the table shows the median per kind and the ratio.

    bench/failover [--runs N] [--servers apache,zkpy]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.retry import KazooRetry

from tests.support.ensemble import Ensemble


def one_failover(kind: str, workdir: Path) -> float:
    with Ensemble(workdir, [kind] * 3) as ensemble:
        leader = ensemble.leader()
        followers = [sid for sid in ensemble.members if sid != leader]
        client = KazooClient(hosts=ensemble.connect_string(followers), timeout=10.0,
                             connection_retry=KazooRetry(max_tries=-1, delay=0.01, max_delay=0.05))
        client.start(timeout=30)
        try:
            client.ensure_path("/failover")
            for n in range(50):
                client.create(f"/failover/warm{n}", b"x")
            ensemble.process(leader).kill()
            killed = time.monotonic()
            n = 0
            while True:
                try:
                    client.create(f"/failover/after{n}", b"x")
                    return time.monotonic() - killed
                except KazooException:
                    n += 1
                    time.sleep(0.005)
        finally:
            client.stop()
            client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--servers", default="apache,zkpy")
    args = parser.parse_args(argv)
    results: dict[str, list[float]] = {}
    for run in range(args.runs):
        for kind in args.servers.split(","):
            with tempfile.TemporaryDirectory(prefix=f"failover-{kind}-") as tmp:
                seconds = one_failover(kind, Path(tmp))
            results.setdefault(kind, []).append(seconds)
            print(f"run {run + 1} {kind:6s} kill -9 leader -> first committed write: {seconds * 1000:7.0f} ms", flush=True)
    print()
    print(f"{'server':8s} {'median ms':>10s}  runs (ms)")
    for kind, values in results.items():
        print(f"{kind:8s} {statistics.median(values) * 1000:10.0f}  {', '.join(f'{v * 1000:.0f}' for v in values)}")
    if "apache" in results and "zkpy" in results:
        ratio = statistics.median(results["zkpy"]) / statistics.median(results["apache"])
        print(f"\nzkpy / Apache ZooKeeper (median failover time; lower is better): {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
