"""The benchmark's table logic: medians over runs, ratios, targets, failed runs; no servers."""

from __future__ import annotations

from bench.report import (
    FAILOVER_TARGET,
    NOT_WORSE_TARGET,
    THROUGHPUT_TARGET,
    Row,
    Target,
    durability_rows,
    format_report,
    format_summary,
)


def throughput_row(apache: list[float], zkpy: list[float]) -> Row:
    row = Row("standalone/read", "standalone  read 100%", "ops/s", "ops_per_s", "higher", THROUGHPUT_TARGET)
    for value in apache:
        row.add("apache", {"ops_per_s": value, "p50_us": 1000, "p99_us": 5000})
    for value in zkpy:
        row.add("zkpy", {"ops_per_s": value, "p50_us": 2000, "p99_us": 9000})
    return row


def test_value_is_the_median_of_the_runs_and_ratio_divides_the_medians() -> None:
    row = throughput_row([100.0, 300.0, 200.0], [50.0, 400.0, 250.0])
    assert row.value("apache") == 200.0
    assert row.value("zkpy") == 250.0
    assert row.ratio() == 1.25
    assert row.met() is True


def test_failed_runs_are_left_out_of_the_median_and_all_failed_says_failed() -> None:
    row = throughput_row([100.0, 300.0], [])
    row.add("apache", {"error": "server did not start"})
    row.add("zkpy", {"error": "boom\nTraceback ...\nRuntimeError: last line"})
    assert row.value("apache") == 200.0
    assert row.value("zkpy") is None
    assert row.ratio() is None and row.met() is None
    summary = format_summary([row])
    assert "FAILED" in summary
    assert "zkpy: boom ... RuntimeError: last line" in summary
    assert "Apache (1 of 3 runs): server did not start" in summary


def test_throughput_target_is_judged_on_the_ratio_as_printed() -> None:
    assert THROUGHPUT_TARGET.met(1000.0, 996.0) is True  # prints as 1.00x
    assert THROUGHPUT_TARGET.met(1000.0, 994.0) is False  # prints as 0.99x
    assert THROUGHPUT_TARGET.met(None, 994.0) is None
    assert THROUGHPUT_TARGET.met(1000.0, None) is None


def test_lower_is_better_targets() -> None:
    assert NOT_WORSE_TARGET.met(10.0, 9.0) is True
    assert NOT_WORSE_TARGET.met(10.0, 12.0) is False
    assert NOT_WORSE_TARGET.describe("p99 ms") == "<= 1.00x"


def test_failover_target_needs_the_absolute_limit_and_the_ratio() -> None:
    assert FAILOVER_TARGET.describe("ms") == "< 200 ms and <= 0.50x"
    assert FAILOVER_TARGET.met(1000.0, 150.0) is True
    assert FAILOVER_TARGET.met(1000.0, 250.0) is False  # ratio fine, too slow
    assert FAILOVER_TARGET.met(250.0, 150.0) is False  # fast, but not half of Apache's
    assert FAILOVER_TARGET.met(None, 150.0) is None


def test_assumed_target_is_marked() -> None:
    assert Target(max_ratio=1.0, assumed=True).describe("ms") == "<= 1.00x*"


def test_summary_shows_target_and_verdict_per_row() -> None:
    good = throughput_row([100.0], [150.0])
    bad = throughput_row([100.0], [50.0])
    lines = format_summary([good, bad]).splitlines()
    assert lines[0].split()[:4] == ["row", "unit", "better", "Apache"]
    assert lines[2].endswith("yes") and "1.50x" in lines[2] and ">= 1.00x" in lines[2]
    assert lines[3].endswith("NO") and "0.50x" in lines[3]


def test_report_has_details_runs_and_a_warning_when_the_machine_was_busy() -> None:
    row = throughput_row([100.0, 120.0], [90.0, 80.0])
    for side in ("apache", "zkpy"):
        for result in row.runs[side]:
            result.update(server_cpu_pct=90.0, client_cpu_pct=40.0, other_cpu_pct=70.0)
    report = format_report([row], ["preamble line"])
    assert report.startswith("preamble line")
    assert "1.00 / 5.00" in report  # Apache p50/p99 ms
    assert "100 120" in report.replace(".0", "")  # every run's number
    assert "90/40/70" in report
    assert "WARNING" in report


def test_durability_rows_keep_numbers_measured_before_a_failed_phase() -> None:
    apache = {"creates_per_s": 9000.0, "rss_after_load_mib": 1000.0, "rss_after_restart_mib": 700.0,
              "snapshot_ms": 6000, "restart_s": 20.0, "snapshot_bytes": 2**20 * 146,
              "populate": {"server_cpu_pct": 60.0, "client_cpu_pct": 30.0, "other_cpu_pct": 5.0}}
    zkpy = {"creates_per_s": 5000.0, "rss_after_load_mib": 600.0, "error": "snapshot: gave up"}
    rows = {row.metric: row for row in durability_rows("znodes-1m", {"apache": apache, "zkpy": zkpy})}
    assert rows["rss_after_load_mib"].value("zkpy") == 600.0
    assert rows["rss_after_load_mib"].met() is True
    assert rows["creates_per_s"].met() is False
    assert rows["snapshot_ms"].value("zkpy") is None
    assert rows["snapshot_bytes"].value("apache") == 146.0
    report = format_report(list(rows.values()))
    assert "snapshot: gave up" in report
    assert report.count("[zkpy: ") == 1  # one error, listed once for all its rows
