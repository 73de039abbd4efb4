"""Random client operations for the differential test: the op model, Hypothesis strategies, and
how each op becomes a request frame.

An example is a list of `Step(session, op)`. Paths are templates: `$R` stands for the example's
root (a fresh `/hyp-N/r` on each server) and `$LAST` for the path the last successful create
returned on that server, so sequential nodes can be addressed again. Names come from a small
alphabet so creates, deletes and version checks collide often. Steps run on one of two sessions
(S0, S1) so that ephemerals, auth and watches have someone else to meet; `CloseSession` replaces
a session with a fresh one. `Batch` sends several requests back to back before reading any reply,
which drives the server's outstanding-changes logic.

Left out on purpose: a standalone check (opcode 13; Apache ZooKeeper 3.8.0 never answers it),
TTL nodes (extendedTypesEnabled is off, so only their refusal is exercised), reads of the path ""
(they see the real root, whose Stat depends on every example before) and, inside batches, auth
and setACL (see `pipelinable`).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from zkpy.jute import records as r
from zkpy.jute.constants import OpCode

ROOT = "$R"
HOME = "$H"  # the root's parent, private to the example too
LAST = "$LAST"
SESSIONS = 2

NAMES = ["a", "b", "c"]
# Sequential creates of $R/a and $R/a/ make the first two; then a name that is reserved only at
# the top level, and a non-ASCII one.
RARE_NAMES = ["a0000000000", "a0000000001", "0000000000", "0000000001", "zookeeper", "é"]
INVALID_PATHS = [
    "$R/a/",  # trailing slash: valid only for a sequential create
    "$R//a",
    "$R/./a",
    "$R/a/..",
    "$R/a\x00b",
    "$R/a\x01",
    "$R/\ufff5",
    "a",  # relative
    "",
]

USERS = {"alice": "pw-alice", "bob": "pw-bob"}
SUPER_USER, SUPER_PASSWORD = "super", "superpw"


def digest_id(user: str, password: str) -> str:
    """DigestAuthenticationProvider.generateDigest: user:base64(sha1(user:password))."""
    raw = hashlib.sha1(f"{user}:{password}".encode()).digest()
    return f"{user}:{base64.b64encode(raw).decode()}"


def super_digest() -> str:
    return digest_id(SUPER_USER, SUPER_PASSWORD)


def _acl(perms: int, scheme: str, ident: str) -> Any:
    return r.ACL(perms, r.Id(scheme, ident))


ALICE = digest_id("alice", USERS["alice"])
ACLS: dict[str, list[Any]] = {
    "open": [_acl(31, "world", "anyone")],
    "read": [_acl(1, "world", "anyone")],
    "read-create": [_acl(5, "world", "anyone")],
    "no-delete": [_acl(23, "world", "anyone")],
    "no-perms": [_acl(0, "world", "anyone")],
    "dup": [_acl(31, "world", "anyone"), _acl(31, "world", "anyone")],
    "alice": [_acl(31, "digest", ALICE)],
    "alice+read": [_acl(31, "digest", ALICE), _acl(1, "world", "anyone")],
    "auth": [_acl(31, "auth", "")],
    "auth+read": [_acl(31, "auth", ""), _acl(1, "world", "anyone")],
    "ip-local": [_acl(31, "ip", "127.0.0.1")],
    "ip-other": [_acl(31, "ip", "10.0.0.0/8")],
    "empty": [],
    "bad-scheme": [_acl(31, "nosuch", "x")],
    "bad-digest": [_acl(31, "digest", "nocolon")],
    "bad-ip": [_acl(31, "ip", "not-an-ip")],
}


@dataclass(frozen=True)
class Create:
    path: str
    data: bytes | None = b""
    acl: str = "open"
    flags: int = 0
    opcode: int = OpCode.create


@dataclass(frozen=True)
class Delete:
    path: str
    version: int = -1


@dataclass(frozen=True)
class SetData:
    path: str
    data: bytes | None = b""
    version: int = -1


@dataclass(frozen=True)
class Check:
    """CheckVersionRequest, used only inside a multi: Apache ZooKeeper 3.8.0 answers a standalone
    check (opcode 13) with nothing at all (its FinalRequestProcessor fails serializing a null
    Stat), so there is no oracle for it here."""

    path: str
    version: int = -1


@dataclass(frozen=True)
class Exists:
    path: str
    watch: bool = False


@dataclass(frozen=True)
class GetData:
    path: str
    watch: bool = False


@dataclass(frozen=True)
class GetChildren:
    path: str
    watch: bool = False
    with_stat: bool = False


@dataclass(frozen=True)
class GetACL:
    path: str


@dataclass(frozen=True)
class SetACL:
    path: str
    acl: str = "open"
    version: int = -1


@dataclass(frozen=True)
class Sync:
    path: str


@dataclass(frozen=True)
class GetAllChildrenNumber:
    path: str


@dataclass(frozen=True)
class GetEphemerals:
    prefix: str


@dataclass(frozen=True)
class WhoAmI:
    pass


@dataclass(frozen=True)
class Multi:
    ops: tuple[Create | Delete | SetData | Check, ...]


@dataclass(frozen=True)
class MultiRead:
    ops: tuple[GetData | GetChildren, ...]


@dataclass(frozen=True)
class Auth:
    user: str
    password: str


@dataclass(frozen=True)
class CloseSession:
    """closeSession; the runner then opens a fresh session in this slot."""


@dataclass(frozen=True)
class Batch:
    """Requests written back to back; replies are read only after all were sent."""

    ops: tuple[Any, ...]


@dataclass(frozen=True)
class Step:
    session: int
    op: Any


# ---------------------------------------------------------------------------------------------
# strategies

def _weighted(*pairs: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """A choice between strategies with integer weights; shrinks towards the first one."""
    table = [index for index, (weight, _) in enumerate(pairs) for _ in range(weight)]

    @st.composite
    def pick(draw: st.DrawFn) -> Any:
        return draw(pairs[table[draw(st.integers(0, len(table) - 1))]][1])

    return pick()


names = _weighted((8, st.sampled_from(NAMES)), (1, st.sampled_from(RARE_NAMES)))
depths = _weighted((7, st.just(1)), (3, st.just(2)), (1, st.just(3)))
valid_paths = depths.flatmap(lambda depth: st.lists(names, min_size=depth, max_size=depth)).map(
    lambda segs: ROOT + "/" + "/".join(segs)
)
paths = _weighted(
    (12, valid_paths),
    (1, st.just(ROOT)),
    (3, st.just(LAST)),
    (1, st.sampled_from(INVALID_PATHS)),
)
datas = st.sampled_from([b"", b"x", b"hello world", None])
versions = st.sampled_from([-1, 0, 1, 2, 7])
acl_names = _weighted((8, st.just("open")), (2, st.sampled_from(sorted(ACLS))))
watches = st.booleans()

modes = _weighted((5, st.just(0)), (3, st.sampled_from([1, 2, 3])))
plain_creates = st.builds(Create, paths, datas, acl_names, modes,
                          st.sampled_from([OpCode.create, OpCode.create2]))
container_creates = st.builds(Create, paths, datas, acl_names, st.just(4),
                              st.just(OpCode.createContainer))
# Flags that do not fit the opcode: TTL modes, container flags on create, other modes on
# createContainer, flags outside CreateMode.
odd_creates = st.builds(Create, paths, datas, acl_names, st.sampled_from([-1, 0, 1, 4, 5, 6, 7]),
                        st.sampled_from([OpCode.create, OpCode.create2, OpCode.createContainer]))
creates = _weighted((6, plain_creates), (1, container_creates), (1, odd_creates))
deletes = st.builds(Delete, paths, versions)
set_datas = st.builds(SetData, paths, datas, versions)
checks = st.builds(Check, paths, versions)
# Reads of "" would see the server's real root, whose Stat depends on every earlier example.
local_paths = paths.filter(lambda path: path != "")
read_paths = _weighted((3, local_paths), (1, st.just(ROOT)), (1, st.just(LAST)))
reads = st.one_of(
    st.builds(Exists, read_paths, watches),
    st.builds(GetData, read_paths, watches),
    st.builds(GetChildren, read_paths, watches, st.booleans()),
    st.builds(GetACL, read_paths),
)
rare_reads = st.one_of(
    st.builds(Sync, local_paths),
    st.builds(GetAllChildrenNumber, local_paths),
    st.builds(GetEphemerals, st.sampled_from([ROOT, ROOT + "/a", "/"])),
    st.just(WhoAmI()),
)
set_acls = st.builds(SetACL, paths, acl_names, versions)
multi_ops = _weighted((3, creates), (2, deletes), (2, set_datas), (2, checks))
multis = st.builds(Multi, st.lists(multi_ops, max_size=4).map(tuple))
multi_reads = st.builds(
    MultiRead,
    st.lists(st.one_of(st.builds(GetData, local_paths), st.builds(GetChildren, local_paths)),
             min_size=1, max_size=3).map(tuple),
)
auths = st.sampled_from(
    [(user, password) for user, password in sorted(USERS.items())] + [("alice", "wrong")]
).map(lambda pair: Auth(*pair))

# Ops that may go into a pipelined batch. Some stay out because Apache ZooKeeper itself answers
# them differently depending on thread timing:
# - an auth packet is handled as soon as it is read, ahead of the requests queued before it;
# - setACL leaves the node's old ACL in its pending change record (PrepRequestProcessor
#   duplicates the record and bumps only aversion), so a request pipelined right behind it is
#   checked against the old ACL or the new one depending on whether the setACL was applied yet;
# - createContainer with an ephemeral flag creates a container but records an ephemeral in the
#   pending change record, so a child create right behind it may fail NoChildrenForEphemerals.
pipelinable = _weighted(
    (5, plain_creates), (1, container_creates), (2, deletes), (2, set_datas), (3, reads),
    (1, multis), (1, rare_reads),
)
ops = _weighted(
    (6, creates),
    (2, deletes),
    (2, set_datas),
    (4, reads),
    (1, set_acls),
    (2, multis),
    (1, multi_reads),
    (1, rare_reads),
    (1, auths),
    (1, st.just(CloseSession())),
    (2, st.builds(Batch, st.lists(pipelinable, min_size=2, max_size=6).map(tuple))),
)
steps = st.builds(Step, st.integers(0, SESSIONS - 1), ops)
# Runs of steps, so an example is long enough to build up a tree (a flat list averages ~5 steps)
# while the shrinker can still drop whole runs or cut each run down to one step.
examples = st.lists(st.lists(steps, min_size=1, max_size=8), max_size=5).map(
    lambda runs: [step for run in runs for step in run]
)


# ---------------------------------------------------------------------------------------------
# encoding

def resolve(path: str, root: str, last: str | None) -> str:
    if path == LAST:
        return last if last is not None else root + "/a"
    return path.replace(ROOT, root)


def _multi_body(items: list[tuple[int, bytes]]) -> bytes:
    out = bytearray()
    for opcode, body in items:
        out += r.MultiHeader(opcode, False, -1).to_bytes()
        out += body
    out += r.MultiHeader(-1, True, -1).to_bytes()
    return bytes(out)


def request(op: Any, root: str, last: str | None) -> tuple[int, bytes]:
    """(opcode, body) for one op. CloseSession and Auth are framed by the session itself."""

    def p(path: str) -> str:
        return resolve(path, root, last)

    match op:
        case Create():
            create = r.CreateRequest(p(op.path), op.data, ACLS[op.acl], op.flags)
            return op.opcode, create.to_bytes()
        case Delete():
            return OpCode.delete, r.DeleteRequest(p(op.path), op.version).to_bytes()
        case SetData():
            return OpCode.setData, r.SetDataRequest(p(op.path), op.data, op.version).to_bytes()
        case Check():
            return OpCode.check, r.CheckVersionRequest(p(op.path), op.version).to_bytes()
        case Exists():
            return OpCode.exists, r.ExistsRequest(p(op.path), op.watch).to_bytes()
        case GetData():
            return OpCode.getData, r.GetDataRequest(p(op.path), op.watch).to_bytes()
        case GetChildren():
            opcode = OpCode.getChildren2 if op.with_stat else OpCode.getChildren
            return opcode, r.GetChildrenRequest(p(op.path), op.watch).to_bytes()
        case GetACL():
            return OpCode.getACL, r.GetACLRequest(p(op.path)).to_bytes()
        case SetACL():
            return OpCode.setACL, r.SetACLRequest(p(op.path), ACLS[op.acl], op.version).to_bytes()
        case Sync():
            return OpCode.sync, r.SyncRequest(p(op.path)).to_bytes()
        case GetAllChildrenNumber():
            return OpCode.getAllChildrenNumber, r.GetAllChildrenNumberRequest(p(op.path)).to_bytes()
        case GetEphemerals():
            return OpCode.getEphemerals, r.GetEphemeralsRequest(p(op.prefix)).to_bytes()
        case WhoAmI():
            return OpCode.whoAmI, b""
        case Multi():
            return OpCode.multi, _multi_body([request(sub, root, last) for sub in op.ops])
        case MultiRead():
            return OpCode.multiRead, _multi_body([request(sub, root, last) for sub in op.ops])
        case CloseSession():
            return OpCode.closeSession, b""
    raise TypeError(f"not a request op: {op!r}")
