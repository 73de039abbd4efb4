"""The stock Apache ZooKeeper Java client (Debian's zookeeper.jar, 3.8) against real servers.

- `test_scenario_against_apache` checks that the scripted Java scenario (tests/java/ZkScenario)
  runs to the end against Apache ZooKeeper and shows the behaviour it is meant to pin down: the
  program itself is sane, so a difference elsewhere is the server's.
- `test_zkpy_transcript_equals_reference` is the differential test: zkpy must produce the same
  normalized transcript as Apache ZooKeeper, line by line.
- `test_zkcli_commands` runs Debian's command line client (`ZooKeeperMain`) one command at a
  time, as an operator would, against both servers.

`-k apache` selects the runs against Apache ZooKeeper only; `-k zkpy` the ones that need zkpy.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.interop.java_client import missing_java_tools, run_java_scenario, run_zkcli
from tests.support.servers import ApacheZkServer, ServerProcess, ZkpyServer

_MISSING = missing_java_tools()

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(
        _MISSING is not None,
        reason=f"Java interop needs the JDK and Debian's ZooKeeper client: {_MISSING}",
    ),
]

SERVER_KINDS: dict[str, type[ServerProcess]] = {"apache": ApacheZkServer, "zkpy": ZkpyServer}

# Lines the Apache transcript must contain verbatim; each pins one behaviour the scenario covers.
EXPECTED_APACHE_LINES = [
    "A connect requested_timeout=30000 -> negotiated_timeout=30000",
    "C connect requested_timeout=1000 -> negotiated_timeout=4000",
    "D connect requested_timeout=100000 -> negotiated_timeout=40000",
    "A create /it/ps- 'ps' PERSISTENT_SEQUENTIAL -> /it/ps-0000000002",
    "A create /it/es- 'es' EPHEMERAL_SEQUENTIAL -> /it/es-0000000003",
    "A create2 /it/c2e 'c2e' EPHEMERAL -> /it/c2e {czxid=z2 mzxid=z2 pzxid=z2 version=0 cversion=0"
    " aversion=0 ephemeralOwner=self dataLength=3 numChildren=0}",
    "A create /it/p 'dup' PERSISTENT -> KeeperException NODEEXISTS",
    "A create /it/missing/child 'x' PERSISTENT -> KeeperException NONODE",
    "A create /it/e/child 'x' PERSISTENT -> KeeperException NOCHILDRENFOREPHEMERALS",
    "A create it 'x' PERSISTENT -> IllegalArgumentException: Path must start with / character",
    "A create /it/acl-digest acl=digest:nocolon -> KeeperException INVALIDACL",
    "A setData /it/p 'p2' 0 -> KeeperException BADVERSION",
    "A getData /it/nul -> null {czxid=z5 mzxid=z5 pzxid=z5 version=0 cversion=0 aversion=0"
    " ephemeralOwner=0 dataLength=0 numChildren=0}",
    "A delete /it/d 0 -> KeeperException BADVERSION",
    "A delete /it/d 1 -> OK",
    "A delete /it -1 -> KeeperException NOTEMPTY",
    "A delete / -1 -> KeeperException BADARGUMENTS",
    "A delete /zookeeper -1 -> KeeperException BADARGUMENTS",
    "A sync /it -> rc=OK path=/it",
    "A multi [create m3, setData m1 v99, delete nope] -> KeeperException BADVERSION"
    " [error OK, error BADVERSION, error RUNTIMEINCONSISTENCY]",
    "A multi [empty] -> OK []",
    "A setACL /it/acl world:anyone all 0 -> KeeperException BADVERSION",
    "A getACL /it/acl -> [31:world:anyone] {czxid=z40 mzxid=z40 pzxid=z40 version=0 cversion=0"
    " aversion=3 ephemeralOwner=0 dataLength=1 numChildren=0}",
    "  A event NodeCreated SyncConnected /it/w-new (default)",
    "  A event NodeDataChanged SyncConnected /it/p (w1)",
    "  A event NodeChildrenChanged SyncConnected /it/kids (default)",
    "  A event NodeDeleted SyncConnected /it/kids/k2 (default)",
    "B getChildren /it/sess watch -> [eph]",
    "  B event NodeDeleted SyncConnected /it/sess/eph (default)",
    "  R event NodeDataChanged SyncConnected /it/r/w (default)",
    "  R event NodeCreated SyncConnected /it/r/new (default)",
    "  R event NodeDataChanged SyncConnected /it/r/same (default)",
    "T2 session id equals T -> true",
    "  B event NodeDeleted SyncConnected /it/t/eph (default)",
    "  T event None Expired null (default)",
    "  W event None Expired null (default)",
    "X connect requested_timeout=4000 -> negotiated_timeout=4000",
    "  B event NodeDeleted SyncConnected /it/x/eph (default)",
    "  X event None Expired null (default)",
    "X getData /it/x -> KeeperException SESSIONEXPIRED",
    "A whoAmI -> [ip:127.0.0.1]",
]

# (step, next line): a one-shot watch that already fired must stay silent on the next change.
EXPECTED_APACHE_SILENCE = [
    ("B setData /it/p 'from-b-again' -1 ->", "A getData /it/p watcher=w1 ->"),
    ("B setData /it/w-new 'again' -1 ->", "A exists /it/w-new watch ->"),
    ("B create /it/kids/k2 '2' PERSISTENT ->", "A getChildren /it/kids watch ->"),
]


@contextmanager
def running_server(kind: str, workdir: Path) -> Iterator[ServerProcess]:
    with SERVER_KINDS[kind](workdir) as server:
        yield server


@pytest.fixture(scope="module")
def apache_transcript(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    with running_server("apache", tmp_path_factory.mktemp("apache-scenario")) as server:
        return run_java_scenario(server.address)


def test_scenario_against_apache(apache_transcript: list[str]) -> None:
    transcript = apache_transcript
    assert transcript[-1] == "END"
    failures = [line for line in transcript if "TIMEOUT" in line or "FATAL" in line]
    assert not failures
    missing = [line for line in EXPECTED_APACHE_LINES if line not in transcript]
    assert not missing, "expected lines missing from the Apache transcript:\n" + "\n".join(missing)
    for step, expected_next in EXPECTED_APACHE_SILENCE:
        index = next(i for i, line in enumerate(transcript) if line.startswith(step))
        assert transcript[index + 1].startswith(expected_next), transcript[index : index + 3]


def test_zkpy_transcript_equals_reference(apache_transcript: list[str], tmp_path: Path) -> None:
    with running_server("zkpy", tmp_path) as server:
        zkpy_transcript = run_java_scenario(server.address, allow_incomplete=True)
    if zkpy_transcript != apache_transcript:
        diff = difflib.unified_diff(
            apache_transcript, zkpy_transcript, "apache-zookeeper", "zkpy", lineterm="", n=2
        )
        message = "zkpy's transcript differs from Apache ZooKeeper's:\n" + "\n".join(diff)
        pytest.fail(message, pytrace=False)


def _stat_fields(lines: list[str]) -> dict[str, str]:
    fields = {}
    for line in lines:
        key, sep, value = line.partition(" = ")
        if sep:
            fields[key] = value
    return fields


@pytest.mark.parametrize("server_kind", ["apache", "zkpy"])
def test_zkcli_commands(server_kind: str, tmp_path: Path) -> None:
    with running_server(server_kind, tmp_path) as server:
        address = server.address

        created = run_zkcli(address, "create", "/x", "hello")
        assert created.returncode == 0, created
        assert "Created /x" in created.stderr + created.stdout

        got = run_zkcli(address, "get", "/x")
        assert (got.returncode, got.output_lines) == (0, ["hello"]), got

        listed = run_zkcli(address, "ls", "/")
        assert (listed.returncode, listed.output_lines) == (0, ["[x, zookeeper]"]), listed

        stat = run_zkcli(address, "stat", "/x")
        assert stat.returncode == 0, stat
        fields = _stat_fields(stat.output_lines)
        assert fields["cZxid"] == fields["mZxid"] == fields["pZxid"], fields
        assert int(fields["cZxid"], 16) > 0
        assert fields["ctime"] and fields["mtime"]
        versions = ("cversion", "dataVersion", "aclVersion", "ephemeralOwner")
        assert {key: fields[key] for key in versions} == {
            "cversion": "0",
            "dataVersion": "0",
            "aclVersion": "0",
            "ephemeralOwner": "0x0",
        }
        assert (fields["dataLength"], fields["numChildren"]) == ("5", "0")

        again = run_zkcli(address, "create", "/x", "again")
        assert again.returncode == 1 and "Node already exists: /x" in again.stderr, again

        sequential = run_zkcli(address, "create", "-s", "/x/s-", "a")
        assert sequential.returncode == 0, sequential
        assert "Created /x/s-0000000000" in sequential.stderr, sequential

        not_empty = run_zkcli(address, "delete", "/x")
        assert not_empty.returncode == 1 and "Node not empty: /x" in not_empty.stderr, not_empty

        assert run_zkcli(address, "delete", "/x/s-0000000000").returncode == 0
        deleted = run_zkcli(address, "delete", "/x")
        assert deleted.returncode == 0, deleted

        gone = run_zkcli(address, "get", "/x")
        assert gone.returncode == 1 and "Node does not exist: /x" in gone.stderr, gone

        listed = run_zkcli(address, "ls", "/")
        assert (listed.returncode, listed.output_lines) == (0, ["[zookeeper]"]), listed
