"""The sample configs and the operator guide's key tables stay true to zkpy's config parser.

* Every conf/*.cfg loads with zkpy's own loader (`load_config`, what `zkpy-server` runs). A file
  with server.N lines is loaded once per member: copied into a temporary directory with dataDir
  pointing there and that member's id in dataDir/myid.
* The zoo.cfg keys listed in docs/operator-guide.md, between the `<!-- keys: ... -->` markers,
  are exactly the keys the parser knows: its typed keys, the keys it checks or keeps knowingly,
  its key prefixes (written `prefix*` or `prefix.N` in the guide) and the keys
  `_Parser.read_static` handles itself (server.N, electionAlg, version). A key is the backticked
  text in the first cell of a table row.
* A key the runtime reads from ServerConfig.extra is not listed among the keys without effect,
  and a default the guide gives as a plain number or boolean is the ServerConfig default.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from zkpy.server import config as zoo_cfg
from zkpy.server.config import ACTED_ON_EXTRA, ServerConfig, load_config
from zkpy.server.properties import read_properties

REPO_ROOT = Path(__file__).resolve().parents[1]
GUIDE = REPO_ROOT / "docs" / "operator-guide.md"
SAMPLES = sorted((REPO_ROOT / "conf").glob("*.cfg"))

# Keys _Parser.read_static handles before its key tables: they are in none of them.
READ_STATIC_KEYS = frozenset({"electionAlg", "version"})
READ_STATIC_PREFIXES = frozenset({"server."})

# How the runtime reads zoo.cfg keys kept verbatim in ServerConfig.extra (config.py's own reads
# are parse-time checks, not effects).
_EXTRA_READS = (
    re.compile(r"""extra\.get\(\s*["']([^"']+)["']"""),
    re.compile(r"""_int_setting\(\s*config\s*,\s*["']([^"']+)["']"""),
    re.compile(r"""settings\.get\(\s*["']([^"']+)["']"""),
)


# --- the sample configs -------------------------------------------------------------------------


def _server_ids(text: str) -> list[int]:
    return sorted(int(p.key[len("server."):]) for p in read_properties(text)
                  if p.key.startswith("server."))


def _load_as(sample: Path, tmp_path: Path, server_id: int | None) -> ServerConfig:
    data_dir = tmp_path / f"data-{server_id}"
    data_dir.mkdir()
    if server_id is not None:
        (data_dir / "myid").write_text(f"{server_id}\n")
    text = sample.read_text()
    assert re.search(r"^dataDir=", text, re.MULTILINE), f"{sample.name} sets no dataDir"
    text = re.sub(r"^dataDir=.*$", f"dataDir={data_dir}", text, flags=re.MULTILINE)
    copy = tmp_path / f"{server_id}-{sample.name}"
    copy.write_text(text)
    return load_config(copy)


def test_there_are_samples() -> None:
    names = {p.name for p in SAMPLES}
    assert {"zoo.cfg", "zoo-standalone.cfg", "zoo-ensemble-3.cfg", "zoo-observer.cfg",
            "zoo-metrics.cfg"} <= names


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_sample_loads_with_zkpys_loader(sample: Path, tmp_path: Path) -> None:
    ids = _server_ids(sample.read_text())
    for server_id in ids or [None]:
        config = _load_as(sample, tmp_path, server_id)
        assert config.unknown_keys() == (), f"{sample.name}: keys no ZooKeeper component reads"
        assert config.client_port is not None
        if ids:
            assert config.is_distributed
            assert set(config.servers) == set(ids)
        else:
            assert not config.is_distributed


def test_ensemble_sample_has_three_voting_servers(tmp_path: Path) -> None:
    config = _load_as(REPO_ROOT / "conf" / "zoo-ensemble-3.cfg", tmp_path, 1)
    assert sorted(config.voting_members) == [1, 2, 3]
    assert config.init_limit and config.sync_limit


def test_observer_sample_is_an_observer(tmp_path: Path) -> None:
    sample = REPO_ROOT / "conf" / "zoo-observer.cfg"
    observers = [sid for sid, s in _load_as(sample, tmp_path, 1).servers.items()
                 if s.role is zoo_cfg.LearnerType.OBSERVER]
    assert len(observers) == 1
    own = _load_as(sample, tmp_path, observers[0])
    assert own.peer_type is zoo_cfg.LearnerType.OBSERVER
    assert own.warnings == ()


# --- the guide's key tables ---------------------------------------------------------------------


def _rows(section: str) -> list[list[str]]:
    """The cells of every table row between `<!-- keys: <section> -->` and `<!-- /keys -->`."""
    text = GUIDE.read_text()
    blocks = re.findall(rf"<!-- keys: {section} -->(.*?)<!-- /keys -->", text, re.DOTALL)
    assert blocks, f"no '<!-- keys: {section} -->' block in {GUIDE.name}"
    rows = []
    for block in blocks:
        for line in block.splitlines():
            line = line.strip()
            if not line.startswith("|") or re.fullmatch(r"\|[\s:|-]+\|", line):
                continue
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return [row for row in rows if "`" in row[0]]


def _keys(row: list[str]) -> list[str]:
    return re.findall(r"`([^`]+)`", row[0])


def _guide_keys(section: str) -> set[str]:
    return {key for row in _rows(section) for key in _keys(row)}


def _as_prefix(key: str) -> str | None:
    if key.endswith("*"):
        return key[:-1]
    if key.endswith(".N"):
        return key[:-1]
    return None


def _parser_keys() -> tuple[set[str], set[str]]:
    """(keys, prefixes) that the parser knows."""
    keys = set(zoo_cfg._FIELDS) | set(zoo_cfg._CHECKED_EXTRA) | set(zoo_cfg._KNOWN_KEYS)
    return keys | READ_STATIC_KEYS, set(zoo_cfg._KNOWN_PREFIXES) | READ_STATIC_PREFIXES


def test_guide_lists_exactly_the_keys_the_parser_knows() -> None:
    listed = _guide_keys("effective") | _guide_keys("no-effect")
    keys, prefixes = _parser_keys()
    listed_keys = {k for k in listed if _as_prefix(k) is None}
    listed_prefixes = {p for k in listed if (p := _as_prefix(k)) is not None}

    def known(key: str) -> bool:
        return key in keys or key.startswith(tuple(prefixes))

    assert sorted(k for k in listed_keys if not known(k)) == [], "listed, unknown to the parser"
    assert sorted(keys - listed_keys) == [], "known to the parser, missing from the guide"
    assert sorted(p for p in listed_prefixes if not p.startswith(tuple(prefixes))) == [], \
        "listed prefix unknown to the parser"
    assert sorted(p for p in prefixes if not any(lp.startswith(p) for lp in listed_prefixes)) \
        == [], "parser prefix missing from the guide"


def test_no_key_is_listed_twice() -> None:
    effective, no_effect = _guide_keys("effective"), _guide_keys("no-effect")
    assert sorted(effective & no_effect) == [], "listed as with and without effect"
    rows = _rows("effective") + _rows("no-effect")
    every = [key for row in rows for key in _keys(row)]
    assert sorted({k for k in every if every.count(k) > 1}) == [], "listed twice"


def test_keys_the_runtime_reads_are_not_listed_as_without_effect() -> None:
    read: set[str] = set()
    for source in (REPO_ROOT / "zkpy").rglob("*.py"):
        if source.name == "config.py":
            continue
        text = source.read_text()
        for pattern in _EXTRA_READS:
            read.update(pattern.findall(text))
    assert read, "found no reads of ServerConfig.extra: the patterns are stale"
    listed_effective = _guide_keys("effective")
    no_effect = _guide_keys("no-effect")
    assert sorted(read & no_effect) == [], "read by the runtime, listed without effect"
    assert sorted(read - ACTED_ON_EXTRA) == [], "read by the runtime, logged as not implemented"
    assert sorted(k for k in read if k not in listed_effective) == [], \
        "read by the runtime, missing from the keys zkpy acts on"


def _field_defaults() -> dict[str, object]:
    return {f.name: f.default for f in dataclasses.fields(ServerConfig)
            if f.default is not dataclasses.MISSING}


def _plain_value(cell: str) -> object | None:
    """The guide's default as a value when it is a plain number or boolean, else None."""
    text = cell.strip("`").strip()
    if text in ("true", "yes"):
        return True
    if text in ("false", "no"):
        return False
    try:
        return int(text, 0)
    except ValueError:
        return None


def test_plain_defaults_match_server_config() -> None:
    defaults = _field_defaults()
    checked = 0
    for row in _rows("effective"):
        value = _plain_value(row[1])
        if value is None:
            continue
        for key in _keys(row):
            field_name = zoo_cfg._FIELDS.get(key, (None,))[0]
            if field_name in defaults:
                assert defaults[field_name] == value, f"{key}: guide {row[1]}"
                checked += 1
    assert checked >= 20
