"""The replicated state: the znode tree, sessions with their ephemerals, and watches.

Theory of operation (ZooKeeper's DataTree + the session table of ZKDatabase): `apply(header,
txn)` is the only mutator. Every replica applies the same txns in zxid order and so holds the
same tree; the txn carries everything that depends on time or on prior state (ctime from the
header, the parent's new cversion, the owner of an ephemeral), so applying is deterministic.
Apply never fails loudly: a txn that no longer fits the tree (possible when a log is replayed
over a fuzzy snapshot) yields an error code in its result, as ZooKeeper's processTxn does.

Reads (`get_node`, `children_of`, …) are plain lookups; a read that sets a watch registers it
through `watch_data` / `watch_children`. Fired watches come back in `TxnResult.events` as
(watcher, event type, path) for the server to deliver; the tree sends nothing.

Invariants: every node but the root has its parent in `nodes` and is named in the parent's
`children`; `ephemerals[s]` is exactly the set of paths whose ephemeralOwner is session s;
`last_processed_zxid` is the zxid of the last applied txn.
"""

from __future__ import annotations

import struct
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from zkpy.datatree import acl as acls
from zkpy.datatree.digest import node_digest, to_java_long, tree_digest
from zkpy.datatree.java_order import JavaHashSet, hashset_order
from zkpy.datatree.paths import split_parent
from zkpy.datatree.quotas import LIMIT_NODE, QUOTA_ROOT, STAT_NODE, QuotaIndex, format_stats, parse_stats, stat_path, trim_quota_path
from zkpy.datatree.watches import PERSISTENT, RECURSIVE, STANDARD, WatchManager
from zkpy.jute import records as r
from zkpy.jute.constants import CONTAINER_EPHEMERAL_OWNER, Err, EventType, OpCode
from zkpy.jute.txns import subtxn_record

ZOOKEEPER_PATH = "/zookeeper"
QUOTA_PATH = "/zookeeper/quota"
CONFIG_PATH = "/zookeeper/config"

_STAT = struct.Struct(">qqqqiiiqiiq")
# Sets built once: a tuple of class attributes in an `in` test is rebuilt on every apply.
_PLAIN_CREATES = frozenset({OpCode.create, OpCode.create2})
_DELETES = frozenset({OpCode.delete, OpCode.deleteContainer})
UNKNOWN_DIGEST = -1
"""A node digest is a CRC32, never negative."""
_INT_RANGE = 1 << 32
_INT_HALF = 1 << 31

Watcher = Hashable
WatchEvent = tuple[Watcher, int, str]


def ephemeral_kind(owner: int) -> str:
    """'normal' (a session), 'container', 'ttl' or 'void' for an ephemeralOwner value."""
    if owner == 0:
        return "void"
    if owner == CONTAINER_EPHEMERAL_OWNER:
        return "container"
    if owner < 0 and (owner >> 56) & 0xFF == 0xFF:
        return "ttl"
    return "normal"


def client_ephemeral_owner(owner: int) -> int:
    """What clients see (DataNode.getClientEphemeralOwner): the session of an ephemeral, and 0
    for containers and TTL nodes, whose stored owner only encodes their type."""
    return owner if owner >= 0 or ephemeral_kind(owner) == "normal" else 0


def _known_digest(path: str, node: DataNode) -> int:
    """The node's digest before a change: remembered from its last change, or computed."""
    digest = node.digest
    return digest if digest != UNKNOWN_DIGEST else node_digest(path, node)


def _fresh_digest(path: str, node: DataNode) -> int:
    """The node's digest after a change, remembered for the next one."""
    digest = node.digest = node_digest(path, node)
    return digest


class ChildSet(dict[str, None]):
    """A set of child names that remembers insertion order (ZooKeeper's order depends on it)."""

    __slots__ = ()

    def add(self, name: str) -> None:
        self[name] = None

    def discard(self, name: str) -> None:
        self.pop(name, None)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (set, frozenset)):
            return self.keys() == other
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other


class DataNode:
    __slots__ = (
        "data",
        "acl",
        "czxid",
        "mzxid",
        "ctime",
        "mtime",
        "version",
        "cversion",
        "aversion",
        "ephemeral_owner",
        "pzxid",
        "children",
        "most_children",
        "digest",
    )

    def __init__(
        self,
        data: bytes | None,
        acl: list[Any],
        czxid: int = 0,
        ctime: int = 0,
        ephemeral_owner: int = 0,
    ) -> None:
        self.data = data
        self.acl = acl
        self.czxid = czxid
        self.mzxid = czxid
        self.ctime = ctime
        self.mtime = ctime
        self.version = 0
        self.cversion = 0
        self.aversion = 0
        self.ephemeral_owner = ephemeral_owner
        self.pzxid = czxid
        self.children = ChildSet()
        self.most_children = 0
        self.digest = UNKNOWN_DIGEST
        """The node's digest as of its last change through `apply` (DataNode.digestCached):
        the "before" of the next change costs nothing. Nodes restored from a snapshot start
        without one, which keeps the memory of a restored tree as it was."""

    def add_child(self, name: str) -> None:
        self.children.add(name)
        if len(self.children) > self.most_children:
            self.most_children = len(self.children)

    def ordered_children(self) -> list[str]:
        """The children in the order ZooKeeper's HashSet returns them."""
        return hashset_order(self.children, self.most_children)

    def stat_bytes(self) -> bytes:
        """The encoded Stat of `stat()`, packed in one call (the read hot path)."""
        children = len(self.children)
        data = self.data
        owner = self.ephemeral_owner
        return _STAT.pack(
            self.czxid, self.mzxid, self.ctime, self.mtime, self.version,
            ((self.cversion * 2 - children + _INT_HALF) % _INT_RANGE) - _INT_HALF,
            self.aversion, owner if owner >= 0 else client_ephemeral_owner(owner),
            len(data) if data is not None else 0, children, self.pzxid,
        )

    def stat(self) -> Any:
        """The client's Stat. `cversion` is stored as ZooKeeper stores it, a count of creates
        (the sequence counter); clients see creates + deletes, i.e. 2*creates - children
        (DataNode.copyStat), wrapped to a Java int."""
        children = len(self.children)
        visible_cversion = ((self.cversion * 2 - children + _INT_HALF) % _INT_RANGE) - _INT_HALF
        return r.Stat(
            self.czxid,
            self.mzxid,
            self.ctime,
            self.mtime,
            self.version,
            visible_cversion,
            self.aversion,
            client_ephemeral_owner(self.ephemeral_owner),
            len(self.data) if self.data is not None else 0,
            children,
            self.pzxid,
        )


@dataclass(slots=True)
class TxnResult:
    """What applying one txn did (ZooKeeper's ProcessTxnResult)."""

    client_id: int
    cxid: int
    zxid: int
    type: int
    err: int = 0
    path: str | None = None
    stat_bytes: bytes | None = None
    multi: list[TxnResult] | None = None
    events: list[WatchEvent] = field(default_factory=list)

    @property
    def stat(self) -> Any:
        """The node's Stat as this txn left it (kept encoded: replies send it as is)."""
        return r.Stat.from_bytes(self.stat_bytes) if self.stat_bytes is not None else None


class DataTree:
    def __init__(self) -> None:
        self.nodes: dict[str, DataNode] = {}
        self.ephemerals: dict[int, set[str]] = {}
        self.containers: set[str] = set()
        self.ttls: set[str] = set()
        self.sessions: dict[int, int] = {}
        self.last_processed_zxid = 0
        self.data_watches = WatchManager()
        self.child_watches = WatchManager()
        self._acl_intern: dict[tuple[tuple[int, str, str], ...], list[Any]] = {}
        self._data_size = 0
        self.quotas = QuotaIndex()
        self._init_special_nodes()
        self._digest_sum = tree_digest(self)

    def _init_special_nodes(self) -> None:
        # The nodes ZooKeeper's DataTree creates itself carry ACL index -1 (OPEN_ACL_UNSAFE
        # without a cache entry); they share this list, kept out of the intern table so that a
        # snapshot writes them as -1 and lists OPEN_ACL_UNSAFE only once a znode asks for it.
        self.builtin_open_acl: list[Any] = list(acls.OPEN_ACL_UNSAFE)
        open_acl = self.builtin_open_acl
        root = DataNode(b"", open_acl)
        # ZooKeeper registers its root under "" as well as "/" (snapshots name it ""), so a
        # read of "" finds the root and the node count includes it twice.
        self.nodes[""] = root
        self.nodes["/"] = root
        for path in (ZOOKEEPER_PATH, QUOTA_PATH):
            self._attach(path, DataNode(b"", open_acl))
        config = DataNode(b"", self.intern_acl(acls.READ_ACL_UNSAFE))
        config.aversion = -1
        self._attach(CONFIG_PATH, config)

    def _attach(self, path: str, node: DataNode) -> None:
        parent, name = split_parent(path)
        self.nodes[parent].add_child(name)
        self.nodes[path] = node

    def intern_acl(self, acl: Sequence[Any]) -> list[Any]:
        """One shared list per distinct ACL, like ZooKeeper's ReferenceCountedACLCache."""
        key = tuple([(a.perms, a.id.scheme, a.id.id) for a in acl])
        shared = self._acl_intern.get(key)
        if shared is None:
            shared = self._acl_intern[key] = list(acl)
        return shared

    def interned_acls(self) -> dict[tuple[tuple[int, str, str], ...], list[Any]]:
        """Every distinct ACL list the tree has handed out, by content."""
        return self._acl_intern

    # ----------------------------------------------------------------- reads

    def get_node(self, path: str) -> DataNode | None:
        return self.nodes.get(path)

    @property
    def node_count(self) -> int:
        return len(self.nodes)

    @property
    def approximate_data_size(self) -> int:
        return self._data_size + sum(len(p) for p in self.nodes)

    def watch_data(self, path: str, watcher: Watcher) -> None:
        self.data_watches.add(path, watcher, STANDARD)

    def watch_children(self, path: str, watcher: Watcher) -> None:
        self.child_watches.add(path, watcher, STANDARD)

    def add_persistent_watch(self, path: str, watcher: Watcher, recursive: bool) -> None:
        mode = RECURSIVE if recursive else PERSISTENT
        self.data_watches.add(path, watcher, mode)
        self.child_watches.add(path, watcher, mode)

    def remove_watcher(self, watcher: Watcher) -> None:
        self.data_watches.remove_watcher(watcher)
        self.child_watches.remove_watcher(watcher)

    def ephemerals_of(self, session_id: int) -> set[str]:
        return self.ephemerals.get(session_id, set())

    def all_children_number(self, path: str) -> int:
        """DataTree.getAllChildrenNumber: for "/" every node but the two root names, otherwise
        the names starting with path + "/" (so "" counts "/" too)."""
        if path == "/":
            return len(self.nodes) - 2
        prefix = path + "/"
        return sum(1 for name in self.nodes if name.startswith(prefix))

    def count_descendants(self, path: str) -> int:
        node = self.nodes.get(path)
        if node is None:
            return 0
        prefix = "/" if path == "/" else path + "/"
        total = 0
        stack = [(prefix, node)]
        while stack:
            base, current = stack.pop()
            for name in current.children:
                child = self.nodes[base + name]
                total += 1
                if child.children:
                    stack.append((base + name + "/", child))
        return total

    # ----------------------------------------------------------------- apply

    def apply(self, header: Any, txn: Any) -> TxnResult:
        result = TxnResult(header.clientId, header.cxid, header.zxid, header.type)
        self._apply_into(result, header.type, txn, header)
        if header.zxid > self.last_processed_zxid:
            self.last_processed_zxid = header.zxid
        return result

    def _apply_into(self, result: TxnResult, txn_type: int, txn: Any, header: Any) -> None:
        zxid = header.zxid
        if txn_type in _PLAIN_CREATES:
            owner = header.clientId if txn.ephemeral else 0
            self._create(result, txn.path, txn.data, txn.acl, owner, txn.parentCVersion, zxid, header.time,
                         replayable=txn_type == OpCode.create)
        elif txn_type == OpCode.createContainer:
            self._create(result, txn.path, txn.data, txn.acl, CONTAINER_EPHEMERAL_OWNER,
                         txn.parentCVersion, zxid, header.time)
        elif txn_type == OpCode.createTTL:
            owner = ttl_ephemeral_owner(txn.ttl)
            self._create(result, txn.path, txn.data, txn.acl, owner, txn.parentCVersion, zxid, header.time)
        elif txn_type in _DELETES:
            result.path = txn.path
            result.err = self._delete(txn.path, zxid, result.events)
        elif txn_type == OpCode.setData:
            self._set_data(result, txn.path, txn.data, txn.version, zxid, header.time)
        elif txn_type == OpCode.reconfig:
            self._set_data(result, CONFIG_PATH, txn.data, txn.version, zxid, header.time)
        elif txn_type == OpCode.setACL:
            self._set_acl(result, txn.path, txn.acl, txn.version)
        elif txn_type == OpCode.check:
            result.path = txn.path
            node = self.nodes.get(txn.path)
            if node is None:
                result.err = Err.NONODE
            else:
                result.stat_bytes = node.stat_bytes()
        elif txn_type == OpCode.error:
            result.err = txn.err
        elif txn_type == OpCode.createSession:
            self.sessions[header.clientId] = txn.timeOut
        elif txn_type == OpCode.closeSession:
            self._kill_session(header.clientId, txn, zxid, result.events)
        elif txn_type == OpCode.multi:
            self._apply_multi(result, txn, header)

    def _apply_multi(self, result: TxnResult, txn: Any, header: Any) -> None:
        result.multi = []
        failed = any(sub.type == OpCode.error for sub in txn.txns)
        post_failed = False
        for sub in txn.txns:
            sub_type = sub.type
            record = subtxn_record(sub)
            if sub_type == OpCode.error:
                post_failed = True
            elif failed:
                sub_type = OpCode.error
                record = r.ErrorTxn(Err.RUNTIMEINCONSISTENCY if post_failed else Err.OK)
            sub_result = TxnResult(header.clientId, header.cxid, header.zxid, sub_type, events=result.events)
            self._apply_into(sub_result, sub_type, record, header)
            result.multi.append(sub_result)
            if sub_result.err and not result.err:
                result.err = sub_result.err

    def _create(
        self,
        result: TxnResult,
        path: str,
        data: bytes | None,
        acl: Sequence[Any],
        owner: int,
        parent_cversion: int,
        zxid: int,
        time_ms: int,
        replayable: bool = False,
    ) -> None:
        result.path = path
        parent_path, name = split_parent(path)
        parent = self.nodes.get(parent_path)
        if parent is None:
            result.err = Err.NONODE
            return
        if name in parent.children:
            result.err = Err.NODEEXISTS
            # Only a replay over a fuzzy snapshot gets here (prep refuses it otherwise): the
            # snapshot may hold the node but not its parent's bump. ZooKeeper repairs the parent
            # for a txn of type `create` (processTxn's setCversionPzxid), inside a multi too:
            # each sub-txn goes through processTxn with its own type in its header. create2,
            # container and TTL creates are left alone.
            if replayable:
                self._advance_parent(parent_path, parent, parent_cversion, zxid)
            return
        self._advance_parent(parent_path, parent, parent_cversion, zxid)
        node = DataNode(data, self.intern_acl(acl), zxid, time_ms, owner)
        parent.add_child(name)
        self.nodes[path] = node
        self._digest_sum += _fresh_digest(path, node)
        self._data_size += _size(data)
        kind = ephemeral_kind(owner)
        if kind == "normal":
            self.ephemerals.setdefault(owner, ChildSet()).add(path)
        elif kind == "container":
            self.containers.add(path)
        elif kind == "ttl":
            self.ttls.add(path)
        result.stat_bytes = node.stat_bytes()
        if parent_path.startswith(QUOTA_ROOT):
            if name == LIMIT_NODE:
                self.quotas.paths.add(trim_quota_path(parent_path))
            elif name == STAT_NODE:
                self._recount_quota(trim_quota_path(parent_path))
        self._charge_quota(path, _size(data), 1)
        self._fire(result.events, self.data_watches.trigger(path, EventType.NodeCreated, acl=node.acl),
                   EventType.NodeCreated, path)
        self._fire(result.events, self.child_watches.trigger(parent_path, EventType.NodeChildrenChanged,
                                                             acl=parent.acl),
                   EventType.NodeChildrenChanged, parent_path)

    def _delete(self, path: str, zxid: int, events: list[WatchEvent]) -> int:
        if path in ("", "/"):
            return Err.NONODE
        parent_path, name = split_parent(path)
        parent = self.nodes.get(parent_path)
        if parent is None:
            return Err.NONODE
        # DataTree.deleteNode moves the parent's pzxid before it finds the child missing: a
        # replay over a fuzzy snapshot may meet a child that is already gone.
        parent.children.discard(name)
        if zxid > parent.pzxid:
            before = _known_digest(parent_path, parent)
            parent.pzxid = zxid
            self._digest_sum += _fresh_digest(parent_path, parent) - before
        node = self.nodes.pop(path, None)
        if node is None:
            return Err.NONODE
        self._digest_sum -= _known_digest(path, node)
        self._data_size -= _size(node.data)
        if parent_path.startswith(QUOTA_ROOT) and name == LIMIT_NODE:
            self.quotas.paths.discard(trim_quota_path(parent_path))
        self._charge_quota(path, -_size(node.data), -1)
        kind = ephemeral_kind(node.ephemeral_owner)
        if kind == "normal":
            owned = self.ephemerals.get(node.ephemeral_owner)
            if owned is not None:
                # The session keeps its (possibly empty) entry until it closes, as in
                # ZooKeeper, where `dump` still lists it.
                owned.discard(path)
        elif kind == "container":
            self.containers.discard(path)
        elif kind == "ttl":
            self.ttls.discard(path)
        told = self.data_watches.trigger(path, EventType.NodeDeleted, acl=node.acl)
        self._fire(events, told, EventType.NodeDeleted, path)
        self._fire(events, self.child_watches.trigger(path, EventType.NodeDeleted, told, acl=node.acl),
                   EventType.NodeDeleted, path)
        self._fire(events, self.child_watches.trigger(parent_path, EventType.NodeChildrenChanged,
                                                      acl=parent.acl),
                   EventType.NodeChildrenChanged, parent_path)
        return Err.OK

    def _set_data(self, result: TxnResult, path: str, data: bytes | None, version: int, zxid: int, time_ms: int) -> None:
        result.path = path
        node = self.nodes.get(path)
        if node is None:
            result.err = Err.NONODE
            return
        size_diff = _size(data) - _size(node.data)
        self._data_size += size_diff
        self._charge_quota(path, size_diff, 0)
        before = _known_digest(path, node)
        node.data = data
        node.version = version
        node.mzxid = zxid
        node.mtime = time_ms
        self._digest_sum += _fresh_digest(path, node) - before
        result.stat_bytes = node.stat_bytes()
        self._fire(result.events, self.data_watches.trigger(path, EventType.NodeDataChanged, acl=node.acl),
                   EventType.NodeDataChanged, path)

    def set_config(self, data: bytes, version_zxid: int, time_ms: int) -> None:
        """ZKDatabase.initConfigInZKDatabase: the active quorum configuration as the data of
        /zookeeper/config (stat version -1, mzxid the config's version). Watches are left
        armed: the reconfig txn that changed the configuration has fired them already."""
        node = self.nodes[CONFIG_PATH]
        self._data_size += _size(data) - _size(node.data)
        node.data = data
        node.version = -1
        node.mzxid = version_zxid
        node.mtime = time_ms

    def _set_acl(self, result: TxnResult, path: str, acl: Sequence[Any], version: int) -> None:
        result.path = path
        node = self.nodes.get(path)
        if node is None:
            result.err = Err.NONODE
            return
        before = _known_digest(path, node)
        node.acl = self.intern_acl(acl)
        node.aversion = version
        self._digest_sum += _fresh_digest(path, node) - before
        result.stat_bytes = node.stat_bytes()

    def _kill_session(self, session_id: int, txn: Any, zxid: int, events: list[WatchEvent]) -> None:
        self.sessions.pop(session_id, None)
        if txn is not None and txn.paths2Delete is not None:
            for path in txn.paths2Delete:
                self._delete(path, zxid, events)
        for path in sorted(self.ephemerals.get(session_id, ())):
            self._delete(path, zxid, events)
        self.ephemerals.pop(session_id, None)

    def _advance_parent(self, parent_path: str, parent: DataNode, parent_cversion: int, zxid: int) -> None:
        """The parent's cversion and pzxid after a create (DataTree.createNode/setCversionPzxid):
        they only move forward, so replaying an already-applied create changes nothing."""
        if parent_cversion == -1:
            parent_cversion = parent.cversion + 1
        if parent_cversion > parent.cversion:
            before = _known_digest(parent_path, parent)
            parent.cversion = parent_cversion
            parent.pzxid = zxid
            self._digest_sum += _fresh_digest(parent_path, parent) - before

    @property
    def digest(self) -> int:
        """The tree digest (ZooKeeper's DigestCalculator sum), maintained as txns apply."""
        return to_java_long(self._digest_sum)

    def recompute_totals(self) -> None:
        """Recomputes the digest and the data size from scratch, after the nodes were filled in
        from a snapshot."""
        self._digest_sum = tree_digest(self)
        self._data_size = sum(_size(node.data) for path, node in self.nodes.items() if path != "/")

    def _charge_quota(self, path: str, bytes_diff: int, count_diff: int) -> None:
        """DataTree.updateQuotaStat: the stats node of the deepest quota above `path`."""
        quota = self.quotas.deepest(path)
        if quota is None:
            return
        stats_node = self.nodes.get(stat_path(quota))
        if stats_node is None:
            return
        stats = parse_stats(stats_node.data)
        stats["count"] = stats.get("count", -1) + count_diff
        stats["bytes"] = stats.get("bytes", -1) + bytes_diff
        self._replace_data(stats_node, format_stats(stats))

    def _recount_quota(self, path: str) -> None:
        """DataTree.updateQuotaForPath: fills a new stats node with the subtree's usage."""
        stats_node = self.nodes.get(stat_path(path))
        node = self.nodes.get(path)
        if stats_node is None or node is None:
            return
        count, size = 1, _size(node.data)
        prefix = path + "/"
        for other, other_node in self.nodes.items():
            if other.startswith(prefix):
                count += 1
                size += _size(other_node.data)
        self._replace_data(stats_node, format_stats({"count": count, "bytes": size}))

    def _replace_data(self, node: DataNode, data: bytes) -> None:
        self._data_size += len(data) - _size(node.data)
        node.data = data

    def rebuild_quotas(self) -> None:
        """Re-registers every quota and recounts its usage after the tree was loaded from a
        snapshot (DataTree.setupQuota)."""
        self.quotas.paths.clear()
        suffix = "/" + LIMIT_NODE
        for path in list(self.nodes):
            if path.startswith(QUOTA_ROOT + "/") and path.endswith(suffix):
                quota = trim_quota_path(path[: -len(suffix)])
                self._recount_quota(quota)
                self.quotas.paths.add(quota)

    @staticmethod
    def _fire(events: list[WatchEvent], watchers: set[Watcher] | frozenset[Watcher], event_type: int, path: str) -> None:
        for watcher in watchers:
            events.append((watcher, event_type, path))


def ephemerals_in_java_order(tree: DataTree, session_id: int) -> JavaHashSet:
    """DataTree.getEphemerals: a clone of the session's HashSet (default capacity, grown by its
    current size), which is the order getEphemerals lists and closeSession deletes in."""
    original = JavaHashSet()
    for path in tree.ephemerals_of(session_id):
        original.add(path)
    return JavaHashSet.copy_of(original.in_java_order())


def _size(data: bytes | None) -> int:
    return len(data) if data is not None else 0


def ttl_ephemeral_owner(ttl_ms: int) -> int:
    """EphemeralType.TTL.toEphemeralOwner: 0xFF in the high byte, the ttl in the low 40 bits."""
    value = (0xFF << 56) | ttl_ms
    return value - (1 << 64)


def ttl_of(owner: int) -> int:
    return owner & ((1 << 40) - 1)
