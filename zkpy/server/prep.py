"""Turns write requests into txns (ZooKeeper's PrepRequestProcessor).

Theory of operation: a write is checked against the state the tree will have once every txn
already handed out has been applied, so prep keeps an overlay of "outstanding changes": one
`ChangeRecord` per path touched by a txn that is not applied yet (None-like `exists=False` for
a pending delete). `record_for(path)` reads the overlay first and the tree second. Each write
gets the next zxid whether it succeeds or not: a failed check yields an `ErrorTxn` with the
error code, logged and applied like any other txn, exactly as ZooKeeper does. A multi takes one
zxid for all its ops; when one op fails the overlay entries of the earlier ops are rolled back,
the failing op becomes ErrorTxn(code) and the later ones ErrorTxn(RUNTIMEINCONSISTENCY).
`applied_through(zxid)` drops the overlay entries that the tree now reflects.

The checks run in ZooKeeper's order (path, parent, ACL, version, emptiness…) so that a request
that is wrong in several ways gets the same error code.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from zkpy.datatree import acl as acls
from zkpy.datatree.paths import InvalidPath, validate_path
from zkpy.datatree.tree import (
    CONFIG_PATH,
    ZOOKEEPER_PATH,
    DataTree,
    ephemeral_kind,
    ephemerals_in_java_order,
    ttl_ephemeral_owner,
)
from zkpy.jute import records as r
from zkpy.jute.constants import CONTAINER_EPHEMERAL_OWNER, CREATE_MODE_FLAGS, MAX_TTL_MS, Err, OpCode, Perms
from zkpy.zab.quorum import QuorumMaj


_CREATE_OPS = frozenset({OpCode.create, OpCode.create2, OpCode.createContainer, OpCode.createTTL})


class _Unpreparable(Exception):
    """A request ZooKeeper's prep fails on with a non-Keeper exception (MARSHALLINGERROR)."""


class KeeperError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass(slots=True)
class ChangeRecord:
    zxid: int
    path: str
    exists: bool
    version: int = 0
    cversion: int = 0
    aversion: int = 0
    ephemeral_owner: int = 0
    child_count: int = 0
    acl: Any = None

    def copy(self, zxid: int) -> ChangeRecord:
        return ChangeRecord(zxid, self.path, self.exists, self.version, self.cversion, self.aversion,
                            self.ephemeral_owner, self.child_count, self.acl)


@dataclass(frozen=True, slots=True)
class PrepPolicy:
    extended_types_enabled: bool = False
    reconfig_enabled: bool = False
    standalone: bool = True
    skip_acl: bool = False


def _next_version(current: int, expected: int) -> int:
    """checkAndIncVersion, including the skip over -1 after wrap-around (ZOOKEEPER-4743)."""
    if expected != -1 and expected != current:
        raise KeeperError(Err.BADVERSION)
    nxt = ((current + 1 + (1 << 31)) % (1 << 32)) - (1 << 31)
    return 0 if nxt == -1 else nxt


def _valid_path(path: str) -> None:
    try:
        validate_path(path)
    except InvalidPath:
        raise KeeperError(Err.BADARGUMENTS) from None


def _parent_of(path: str, special_check: bool) -> str:
    slash = path.rfind("/") if path is not None else -1
    if slash == -1 or "\0" in path or (special_check and _is_special(path)):
        raise KeeperError(Err.BADARGUMENTS)
    return path[:slash] or "/"


def _is_special(path: str) -> bool:
    return path in ("/", ZOOKEEPER_PATH, CONFIG_PATH) or path == "/zookeeper/quota"


class Reconfigurer(Protocol):
    """The leader's side of a reconfig request (a learner or a standalone server has none)."""

    def plan(self, request: Any, zxid: int) -> QuorumMaj:
        """The configuration asked for; raises KeeperError when the request is refused."""

    def begin(self, proposed: QuorumMaj) -> None:
        """The reconfig txn is prepared: no other may start until it commits."""


class PrepProcessor:
    def __init__(self, tree: DataTree, policy: PrepPolicy) -> None:
        self.tree = tree
        self.policy = policy
        self.reconfigurer: Reconfigurer | None = None
        self.next_zxid = tree.last_processed_zxid + 1
        self._outstanding: deque[ChangeRecord] = deque()
        self._by_path: dict[str, ChangeRecord] = {}

    # ----------------------------------------------------------- overlay

    def record_for(self, path: str) -> ChangeRecord:
        rec = self._by_path.get(path)
        if rec is not None:
            if not rec.exists:
                raise KeeperError(Err.NONODE)
            return rec
        node = self.tree.get_node(path)
        if node is None:
            raise KeeperError(Err.NONODE)
        return ChangeRecord(node.czxid, path, True, node.version, node.cversion, node.aversion,
                            node.ephemeral_owner, len(node.children), node.acl)

    def _exists(self, path: str) -> bool:
        rec = self._by_path.get(path)
        if rec is not None:
            return rec.exists
        return path in self.tree.nodes

    def _changed(self, rec: ChangeRecord, zxid: int) -> ChangeRecord:
        """A record to modify for a new change: a copy if `rec` is outstanding already, else
        `rec` itself (record_for made it from the tree just now)."""
        if self._by_path.get(rec.path) is rec:
            return rec.copy(zxid)
        rec.zxid = zxid
        return rec

    def _add(self, rec: ChangeRecord) -> None:
        self._outstanding.append(rec)
        self._by_path[rec.path] = rec

    def applied_through(self, zxid: int) -> None:
        outstanding = self._outstanding
        by_path = self._by_path
        while outstanding and outstanding[0].zxid <= zxid:
            rec = outstanding.popleft()
            if by_path.get(rec.path) is rec:
                del by_path[rec.path]

    @property
    def outstanding_count(self) -> int:
        return len(self._outstanding)

    def _rollback(self, zxid: int, saved: dict[str, ChangeRecord | None]) -> None:
        while self._outstanding and self._outstanding[-1].zxid == zxid:
            rec = self._outstanding.pop()
            if self._by_path.get(rec.path) is rec:
                del self._by_path[rec.path]
        for path, rec in saved.items():
            if rec is not None:
                self._by_path[path] = rec

    def _check_acl(self, acl: Sequence[Any] | None, perm: int, auth_ids: Sequence[Any]) -> None:
        if not acls.check_acl(acl, perm, auth_ids, self.policy.skip_acl):
            raise KeeperError(Err.NOAUTH)

    # ----------------------------------------------------------- requests

    def prep(self, session_id: int, cxid: int, op: int, request: Any, auth_ids: Sequence[Any],
             now_ms: int) -> tuple[Any, Any]:
        """(TxnHeader, txn) for one write request; failures become ErrorTxn."""
        zxid = self.next_zxid
        self.next_zxid += 1
        if op == OpCode.multi:
            try:
                txn = self._multi(session_id, request, auth_ids, zxid, now_ms)
            except _Unpreparable:
                return r.TxnHeader(session_id, cxid, zxid, now_ms, OpCode.error), r.ErrorTxn(Err.MARSHALLINGERROR)
            return r.TxnHeader(session_id, cxid, zxid, now_ms, op), txn
        try:
            txn = self._one(session_id, op, request, auth_ids, zxid, now_ms)
        except KeeperError as error:
            return r.TxnHeader(session_id, cxid, zxid, now_ms, OpCode.error), r.ErrorTxn(error.code)
        return r.TxnHeader(session_id, cxid, zxid, now_ms, op), txn

    def _multi(self, session_id: int, ops: list[tuple[int, Any]], auth_ids: Sequence[Any], zxid: int, now_ms: int) -> Any:
        saved: dict[str, ChangeRecord | None] = {}
        for _, sub in ops:
            path = getattr(sub, "path", None)
            if path is not None:
                saved.setdefault(path, self._by_path.get(path))
                slash = path.rfind("/")
                if slash >= 0:
                    parent = path[:slash] or "/"
                    saved.setdefault(parent, self._by_path.get(parent))
        txns = []
        failed = False
        for op, sub in ops:
            if failed:
                txns.append(r.Txn(OpCode.error, r.ErrorTxn(Err.RUNTIMEINCONSISTENCY).to_bytes()))
                continue
            if op == OpCode.createTTL and not hasattr(sub, "ttl"):
                # Op.create with a TTL mode but no TTL: ZooKeeper's prep fails on the cast to
                # CreateTTLRequest and answers the whole multi with MARSHALLINGERROR.
                self._rollback(zxid, saved)
                raise _Unpreparable
            try:
                txn = self._one(session_id, op, sub, auth_ids, zxid, now_ms)
                txns.append(r.Txn(op, txn.to_bytes()))
            except KeeperError as error:
                failed = True
                txns.append(r.Txn(OpCode.error, r.ErrorTxn(error.code).to_bytes()))
                self._rollback(zxid, saved)
        return r.MultiTxn(txns)

    def _one(self, session_id: int, op: int, req: Any, auth_ids: Sequence[Any], zxid: int, now_ms: int) -> Any:
        if op in _CREATE_OPS:
            return self._create(session_id, op, req, auth_ids, zxid, now_ms)
        if op == OpCode.delete:
            path = req.path
            parent_path = _parent_of(path, special_check=True)
            parent = self.record_for(parent_path)
            self._check_acl(parent.acl, Perms.DELETE, auth_ids)
            node = self.record_for(path)
            _next_version(node.version, req.version)
            if node.child_count > 0:
                raise KeeperError(Err.NOTEMPTY)
            return self._delete_txn(path, parent, zxid)
        if op == OpCode.deleteContainer:
            path = req.path
            parent_path = _parent_of(path, special_check=True)
            node = self.record_for(path)
            if node.child_count > 0:
                raise KeeperError(Err.NOTEMPTY)
            if ephemeral_kind(node.ephemeral_owner) == "normal":
                raise KeeperError(Err.BADVERSION)
            return self._delete_txn(path, self.record_for(parent_path), zxid)
        if op == OpCode.setData:
            path = req.path
            _valid_path(path)
            node = self.record_for(path)
            self._check_acl(node.acl, Perms.WRITE, auth_ids)
            version = _next_version(node.version, req.version)
            changed = self._changed(node, zxid)
            changed.version = version
            self._add(changed)
            return r.SetDataTxn(path, req.data, version)
        if op == OpCode.setACL:
            path = req.path
            _valid_path(path)
            try:
                new_acl = acls.fixup_acl(req.acl, auth_ids)
            except acls.InvalidACL:
                raise KeeperError(Err.INVALIDACL) from None
            node = self.record_for(path)
            self._check_acl(node.acl, Perms.ADMIN, auth_ids)
            version = _next_version(node.aversion, req.version)
            changed = self._changed(node, zxid)
            changed.aversion = version
            changed.acl = new_acl
            self._add(changed)
            return r.SetACLTxn(path, new_acl, version)
        if op == OpCode.check:
            path = req.path
            _valid_path(path)
            node = self.record_for(path)
            self._check_acl(node.acl, Perms.READ, auth_ids)
            return r.CheckVersionTxn(path, _next_version(node.version, req.version))
        if op == OpCode.reconfig:
            return self._reconfig(req, auth_ids, zxid)
        if op == OpCode.closeSession:
            return self._close_session(session_id, zxid)
        raise KeeperError(Err.UNIMPLEMENTED)

    def _reconfig(self, req: Any, auth_ids: Sequence[Any], zxid: int) -> Any:
        if not self.policy.reconfig_enabled:
            raise KeeperError(Err.RECONFIGDISABLED)
        if self.reconfigurer is None:
            raise KeeperError(Err.UNIMPLEMENTED)
        proposed = self.reconfigurer.plan(req, zxid)
        node = self.record_for(CONFIG_PATH)
        self._check_acl(node.acl, Perms.WRITE, auth_ids)
        self.reconfigurer.begin(proposed)
        changed = self._changed(node, zxid)
        changed.version = -1
        self._add(changed)
        return r.SetDataTxn(CONFIG_PATH, proposed.config_bytes(), -1)

    def _delete_txn(self, path: str, parent: ChangeRecord, zxid: int) -> Any:
        changed_parent = self._changed(parent, zxid)
        changed_parent.child_count -= 1
        self._add(changed_parent)
        self._add(ChangeRecord(zxid, path, False))
        return r.DeleteTxn(path)

    def _create(self, session_id: int, op: int, req: Any, auth_ids: Sequence[Any], zxid: int, now_ms: int) -> Any:
        ttl = req.ttl if op == OpCode.createTTL else -1
        mode = CREATE_MODE_FLAGS.get(req.flags)
        if mode is None:
            raise KeeperError(Err.BADARGUMENTS)
        if mode.ttl and not self.policy.extended_types_enabled:
            raise KeeperError(Err.UNIMPLEMENTED)
        if mode.ttl:
            if ttl <= 0 or ttl > MAX_TTL_MS:
                raise KeeperError(Err.BADARGUMENTS)
        elif ttl >= 0:
            raise KeeperError(Err.BADARGUMENTS)
        path = req.path
        parent_path = _parent_of(path, special_check=False)
        try:
            new_acl = acls.fixup_acl(req.acl, auth_ids)
        except acls.InvalidACL:
            raise KeeperError(Err.INVALIDACL) from None
        parent = self.record_for(parent_path)
        self._check_acl(parent.acl, Perms.CREATE, auth_ids)
        if mode.sequential:
            path = f"{path}{parent.cversion:010d}"
        _valid_path(path)
        if self._exists(path):
            raise KeeperError(Err.NODEEXISTS)
        if ephemeral_kind(parent.ephemeral_owner) == "normal":
            raise KeeperError(Err.NOCHILDRENFOREPHEMERALS)
        new_cversion = parent.cversion + 1
        if op == OpCode.createContainer:
            txn: Any = r.CreateContainerTxn(path, req.data, new_acl, new_cversion)
            owner = CONTAINER_EPHEMERAL_OWNER
        elif op == OpCode.createTTL:
            txn = r.CreateTTLTxn(path, req.data, new_acl, new_cversion, ttl)
            owner = ttl_ephemeral_owner(ttl)
        else:
            txn = r.CreateTxn(path, req.data, new_acl, mode.ephemeral, new_cversion)
            owner = session_id if mode.ephemeral else 0
        changed_parent = self._changed(parent, zxid)
        changed_parent.child_count += 1
        changed_parent.cversion = new_cversion
        self._add(changed_parent)
        self._add(ChangeRecord(zxid, path, True, 0, 0, 0, owner, 0, new_acl))
        return txn

    def _close_session(self, session_id: int, zxid: int) -> Any:
        paths = ephemerals_in_java_order(self.tree, session_id)
        for rec in self._outstanding:
            if not rec.exists:
                paths.discard(rec.path)
            elif rec.ephemeral_owner == session_id:
                paths.add(rec.path)
        ordered = paths.in_java_order()
        for path in ordered:
            self._add(ChangeRecord(zxid, path, False))
        return r.CloseSessionTxn(ordered)

    def error_txn(self, session_id: int, cxid: int, code: int, now_ms: int) -> tuple[Any, Any]:
        """A request that could not even be decoded still takes a zxid, as in ZooKeeper."""
        zxid = self.next_zxid
        self.next_zxid += 1
        return r.TxnHeader(session_id, cxid, zxid, now_ms, OpCode.error), r.ErrorTxn(code)

    def create_session_txn(self, session_id: int, timeout_ms: int, now_ms: int) -> tuple[Any, Any]:
        zxid = self.next_zxid
        self.next_zxid += 1
        return r.TxnHeader(session_id, 0, zxid, now_ms, OpCode.createSession), r.CreateSessionTxn(timeout_ms)
