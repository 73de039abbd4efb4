"""How busy the machine is, from /proc/stat, so a benchmark can wait for other work to finish.

Server and load generator share a small machine; anything else running at the same time takes
CPU from both and distorts the ratio. Between rows the benchmark's own server is idle, so the
machine's non-idle CPU then is, to a good approximation, other people's work.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PROC_STAT = Path("/proc/stat")
# Fields of the aggregate "cpu" line that count as busy: user nice system irq softirq steal
# (guest time is already inside user).
BUSY_FIELDS = (0, 1, 2, 5, 6, 7)
SAMPLE_S = 1.0
# CPU of other work, in % of one core, below which the machine counts as quiet; above it during a
# measured window the report calls the row disturbed.
QUIET_PCT = 15.0


def busy_ticks() -> int:
    fields = PROC_STAT.read_text().splitlines()[0].split()[1:]
    return sum(int(fields[i]) for i in BUSY_FIELDS)


def process_cpu_ticks(pid: int) -> int | None:
    """utime + stime of a process (all its threads), in clock ticks; None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name may contain spaces: count fields after its closing parenthesis
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def ticks_to_pct(ticks: int, seconds: float) -> float:
    """Clock ticks used over seconds, in % of one core."""
    return 100.0 * ticks / os.sysconf("SC_CLK_TCK") / seconds if seconds > 0 else 0.0


def busy_pct(interval_s: float = SAMPLE_S) -> float:
    """Non-idle CPU over interval_s, in % of one core (2 cores fully busy = 200)."""
    before = busy_ticks()
    started = time.monotonic()
    time.sleep(interval_s)
    ticks = busy_ticks() - before
    return 100.0 * ticks / os.sysconf("SC_CLK_TCK") / (time.monotonic() - started)


def wait_until_quiet(threshold_pct: float, max_wait_s: float) -> float:
    """Sample until busy_pct() is below threshold_pct or max_wait_s passed; returns the last sample."""
    deadline = time.monotonic() + max_wait_s
    while True:
        pct = busy_pct()
        if pct < threshold_pct or time.monotonic() >= deadline:
            return pct
