"""kazoo's own test suite against zkpy: everything that passes on Apache ZooKeeper must pass here.

The Apache side is the recorded baseline (apache_baseline_standalone.txt, written by
`python -m tests.kazoo_suite.runner --server apache --write-baseline --runs 2`). A full run
takes a few minutes; it is part of the default run, and ZKPY_KAZOO_SUITE=0 leaves it out.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.kazoo_suite.runner import (
    BASELINE_STANDALONE,
    DEFAULT_SUITE_TIMEOUT_S,
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


# One full run plus a targeted rerun of its failures, each bounded by the runner's own deadline.
@pytest.mark.timeout(2 * DEFAULT_SUITE_TIMEOUT_S + 300)
def test_zkpy_passes_everything_apache_passes_standalone(tmp_path: Path) -> None:
    baseline = read_baseline(BASELINE_STANDALONE)
    assert baseline, f"{BASELINE_STANDALONE} lists no tests"

    result = run_suite("zkpy", 1, tmp_path / "zkpy.xml")
    candidates = sorted(set(baseline) - set(result.passed_ids))
    regressions = confirm_regressions("zkpy", 1, candidates, tmp_path / "zkpy-rerun.xml")

    assert not regressions, (
        f"{len(regressions)} of {len(baseline)} kazoo tests pass on Apache ZooKeeper but fail on "
        f"zkpy (twice; {result.summary_line()} on the full run; logs in {tmp_path}):\n"
        + "\n".join(regressions)
    )
