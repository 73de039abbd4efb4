"""kazoo's own test suite against zkpy: everything that passes on Apache ZooKeeper must pass here.

The Apache side is the recorded baseline (apache_baseline_standalone.txt and, with three
servers per test cluster, apache_baseline_cluster3.txt, written by `python -m
tests.kazoo_suite.runner --server apache [--cluster-size 3] --write-baseline --runs N`). Each run
takes a few minutes. The standalone run is part of the default run (ZKPY_KAZOO_SUITE=0 leaves it
out); the three-server run is opt-in (ZKPY_KAZOO_CLUSTER3=1).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.kazoo_suite.runner import (
    DEFAULT_SUITE_TIMEOUT_S,
    baseline_path,
    confirm_regressions,
    read_baseline,
    run_suite,
)

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(
        os.environ.get("ZKPY_KAZOO_SUITE") == "0",
        reason="left out with ZKPY_KAZOO_SUITE=0",
    ),
]


_CLUSTER3_OPT_IN = pytest.mark.skipif(
    os.environ.get("ZKPY_KAZOO_CLUSTER3") != "1",
    reason="three servers per test cluster: about 6 more minutes; opt in with ZKPY_KAZOO_CLUSTER3=1",
)

# One full run plus a targeted rerun of its failures, each bounded by the runner's own deadline.
@pytest.mark.timeout(2 * DEFAULT_SUITE_TIMEOUT_S + 300)
@pytest.mark.parametrize("cluster_size", [1, pytest.param(3, marks=_CLUSTER3_OPT_IN)], ids=["standalone", "cluster3"])
def test_zkpy_passes_everything_apache_passes(tmp_path: Path, cluster_size: int) -> None:
    baseline_file = baseline_path(cluster_size)
    baseline = read_baseline(baseline_file)
    assert baseline, f"{baseline_file} lists no tests"

    result = run_suite("zkpy", cluster_size, tmp_path / "zkpy.xml")
    candidates = sorted(set(baseline) - set(result.passed_ids))
    regressions = confirm_regressions("zkpy", cluster_size, candidates, tmp_path / "zkpy-rerun.xml")

    assert not regressions, (
        f"{len(regressions)} of {len(baseline)} kazoo tests pass on Apache ZooKeeper but fail on "
        f"zkpy (twice; {result.summary_line()} on the full run; logs in {tmp_path}):\n"
        + "\n".join(regressions)
    )
