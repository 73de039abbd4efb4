"""Which rows `--rows` selects and how they are grouped onto deployments; no servers."""

from __future__ import annotations

import pytest

from bench.rows import groups, select

REQUIRED = ("read", "mixed", "write", "churn", "sync-read", "sync-write", "fanout")


def keys(terms: list[str]) -> list[str]:
    return [spec.key for spec in select(terms, "yes", 1000).rows]


def test_default_selection_has_every_row_of_the_issue_on_both_topologies() -> None:
    selected = keys(["all"])
    for topology in ("standalone", "ensemble"):
        for name in REQUIRED:
            assert f"{topology}/{name}" in selected
    assert "ensemble/failover" in selected
    assert "standalone/failover" not in selected
    assert not any(key.endswith("write-nosync") for key in selected)


def test_names_pick_both_topologies_and_keys_one() -> None:
    assert keys(["read"]) == ["standalone/read", "ensemble/read"]
    assert keys(["ensemble/write", "standalone/churn"]) == ["standalone/churn", "ensemble/write"]
    assert keys(["failover"]) == ["ensemble/failover"]
    assert keys(["mixed:50"]) == ["standalone/mixed50", "ensemble/mixed50"]
    assert keys(["write-fsync"]) == ["standalone/write", "ensemble/write"]


def test_durability_terms_and_unknown_rows() -> None:
    selection = select(["durability", "znodes-100k", "durability"], "yes", 1000)
    assert selection.rows == [] and selection.trees == ["znodes-1m", "znodes-100k"]
    with pytest.raises(ValueError):
        select(["reads"], "yes", 1000)
    with pytest.raises(ValueError):
        select(["cluster/read"], "yes", 1000)


def test_groups_share_a_deployment_per_topology_and_config_with_the_failover_last() -> None:
    specs = select(["ensemble/failover", "ensemble/read", "standalone/write-nosync", "standalone/write"],
                   "yes", 1000).rows
    plan = groups(specs, {"forceSync": "yes"})
    assert [(topology, config["forceSync"], [s.name for s in members])
            for topology, config, members in plan] == [
        ("standalone", "yes", ["write"]),
        ("standalone", "no", ["write-nosync"]),
        ("ensemble", "yes", ["read", "failover"]),
    ]


def test_titles_say_what_is_counted() -> None:
    specs = {spec.key: spec for spec in select(["all"], "no", 200).rows}
    assert specs["standalone/write"].title == "write 100% (no fsync)"
    assert specs["ensemble/fanout"].title == "watch fan-out to 200 sessions"
    assert specs["ensemble/churn"].unit == "pairs/s"
    assert specs["standalone/sync-read"].unit == "p99 ms" and specs["standalone/sync-read"].sessions == 1
