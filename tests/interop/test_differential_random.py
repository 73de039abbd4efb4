"""Random sequences of client operations, run on Apache ZooKeeper and on zkpy, must be answered
the same way, Stat for Stat.

Hypothesis draws a list of steps (tests.interop.random_ops: creates of every mode, deletes and
setData with right and wrong versions, reads with watches, ACL changes and digest auth, multi and
multiRead, invalid paths, a second session, session close, and pipelined batches); each example
runs under a fresh root on both servers and the transcripts (tests.interop.differential_runner)
are compared line by line. The run is derandomized, so CI sees the same examples every time; a
difference is shrunk and printed as the falsifying list of steps plus a diff of the transcripts.

`test_found_difference` replays, as fixed examples, the minimal cases that longer random runs
found, so each stays checked by name whatever the derandomized run happens to draw.

Both servers get the same super digest (so the harness can dump and delete any subtree), no fsync
(speed; durability is not under test) and a container check interval of an hour, so that the
container reaper never runs in the middle of an example on one server only.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.interop import random_ops as ro
from tests.interop.differential_runner import ExampleRun
from tests.interop.random_ops import (
    Auth,
    CloseSession,
    Create,
    Exists,
    GetAllChildrenNumber,
    GetEphemerals,
    Multi,
    Step,
    WhoAmI,
)
from tests.support.servers import ApacheZkServer, ZkpyServer, apache_zookeeper_available
from zkpy.jute.constants import OpCode

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not apache_zookeeper_available(), reason="needs Debian's Apache ZooKeeper"),
]

CONTAINER_CHECK_INTERVAL_MS = 3_600_000
SERVER_CONFIG = {
    "DigestAuthenticationProvider.superDigest": ro.super_digest(),
    "forceSync": "no",
    "znode.container.checkIntervalMs": str(CONTAINER_CHECK_INTERVAL_MS),
}


@dataclass
class QuietReaperApacheServer(ApacheZkServer):
    """Apache ZooKeeper reads the container check interval from a JVM flag, not from zoo.cfg."""

    def command(self) -> list[str]:
        java, *rest = super().command()
        return [java, f"-Dznode.container.checkIntervalMs={CONTAINER_CHECK_INTERVAL_MS}", *rest]


@dataclass
class ServerPair:
    apache: ApacheZkServer
    zkpy: ZkpyServer


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerPair]:
    apache = QuietReaperApacheServer(Path(tmp_path_factory.mktemp("apache")), dict(SERVER_CONFIG))
    zkpy = ZkpyServer(Path(tmp_path_factory.mktemp("zkpy")), dict(SERVER_CONFIG))
    with apache, zkpy:
        yield ServerPair(apache, zkpy)


_homes = itertools.count()


def transcript_diff(apache: list[str], zkpy: list[str]) -> str:
    diff = difflib.unified_diff(apache, zkpy, "apache", "zkpy", n=3, lineterm="")
    return "\n".join(diff)


def assert_same_answers(servers: ServerPair, steps: list[Step], home: str | None = None) -> None:
    home = home or f"/hyp-{next(_homes)}"
    apache = ExampleRun(servers.apache.port, home).run(steps)
    zkpy = ExampleRun(servers.zkpy.port, home).run(steps)
    assert apache == zkpy, "transcripts differ:\n" + transcript_diff(apache, zkpy)


@pytest.mark.timeout(900)  # a difference is shrunk before it is reported, which can take minutes
@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(steps=ro.examples)
def test_random_ops_answered_like_apache(servers: ServerPair, steps: list[Step]) -> None:
    assert_same_answers(servers, steps)


FOUND_DIFFERENCES = {
    # FinalRequestProcessor answers exists on a path holding NUL with BadArguments.
    "exists-nul-path": [Step(0, Exists("$R/a\x00b"))],
    # MultiOperationRecord rebuilds every create sub-op with Op.create(path, data, acl, flags):
    # the flags, not the MultiHeader type, pick create / createContainer, and the result type.
    "multi-create2-answers-as-create": [Step(0, Multi((Create("$R/a", opcode=OpCode.create2),)))],
    "multi-create-type-from-flags": [
        Step(0, Multi((
            Create("$R/b", flags=4, opcode=OpCode.create),
            Create("$R/c", flags=0, opcode=OpCode.createContainer),
            Create("$R/d", flags=1, opcode=OpCode.createContainer),
        ))),
    ],
    # ...and TTL flags on a create sub-op make the whole record undecodable: MarshallingError.
    "multi-create-ttl-flags": [Step(0, Multi((Create("$R/a", flags=5),)))],
    # A session's auth ids are a set (ServerCnxn.authInfo, backed by a ConcurrentHashMap): no
    # duplicates, hash order. The `auth` ACL scheme expands in that order.
    "auth-ids-deduplicated": [
        Step(0, Auth("alice", "pw-alice")),
        Step(0, Auth("alice", "pw-alice")),
        Step(0, Create("$R/a", acl="auth")),
    ],
    "auth-ids-in-hash-order": [
        Step(0, Auth("alice", "pw-alice")),
        Step(0, Auth("bob", "pw-bob")),
        Step(0, Create("$R/a", acl="auth")),
    ],
    # whoAmI reports a digest identity by its user name only (getUserName).
    "whoami-digest-user-name": [Step(0, Auth("alice", "pw-alice")), Step(0, WhoAmI())],
    # getEphemerals lists the session's ephemerals in Java HashSet order.
    "get-ephemerals-order": [Step(0, Create("$R/a", flags=3)) for _ in range(4)]
    + [Step(0, GetEphemerals("$R"))],
    # Closing a session deletes its ephemerals in that same order; watchers see it.
    "close-session-deletes-in-hash-order": [
        Step(1, Create("$R/a", flags=1)),
        Step(1, Create("$R/b", flags=1)),
        Step(1, Create("$R/c", flags=1)),
        Step(0, Exists("$R/a", watch=True)),
        Step(0, Exists("$R/b", watch=True)),
        Step(0, Exists("$R/c", watch=True)),
        Step(1, CloseSession()),
    ],
    # A watch event is delivered only to a session that may READ the node (NIOServerCnxn.process
    # checks the ACL; CVE-2024-23944), for standard watches as well as persistent ones.
    "watch-event-needs-read-permission": [
        Step(0, Exists("$R/a", watch=True)),
        Step(1, Create("$R/a", acl="alice")),
    ],
    # DataTree keeps the root under both "" and "/"; counting the descendants of "" finds "/" too.
    # (The count covers the whole server, so it only compares while both hold the same tree.)
    "all-children-number-of-empty-path": [Step(0, GetAllChildrenNumber(""))],
}


@pytest.mark.parametrize("name", FOUND_DIFFERENCES)
def test_found_difference(servers: ServerPair, name: str) -> None:
    # A fixed home: Java hash orders over full paths (a session's ephemerals) depend on it.
    assert_same_answers(servers, FOUND_DIFFERENCES[name], home=f"/found-{name}")
