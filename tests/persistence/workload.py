"""A seeded stream of realistic txns applied to a zkpy DataTree, each with ZooKeeper's TxnDigest.

The txns are what a leader would log: sessions opened and closed (closeSession lists the
session's ephemerals, as 3.8 writes it), persistent / ephemeral / sequential / container / TTL
creates with assorted data and ACLs, setData, setACL, deletes of leaves and multi txns. The tree
digest is kept incrementally from the node digests of the paths each txn touches, the way
NodeHashMapImpl does, so every txn can carry its TxnDigest cheaply; `check_digest` compares it
with a full recomputation.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from zkpy.datatree.acl import OPEN_ACL_UNSAFE, READ_ACL_UNSAFE, digest_of
from zkpy.datatree.digest import DIGEST_VERSION, node_digest, to_java_long, tree_digest
from zkpy.datatree.paths import split_parent
from zkpy.datatree.tree import DataTree
from zkpy.jute import records as r
from zkpy.jute.constants import OpCode, Perms

START_TIME_MS = 1_700_000_000_000
SESSION_TIMEOUT_MS = 30_000

ACL_CHOICES = [
    OPEN_ACL_UNSAFE,
    READ_ACL_UNSAFE,
    [r.ACL(Perms.ALL, r.Id("digest", digest_of("alice:secret")))],
    [r.ACL(Perms.READ | Perms.WRITE, r.Id("ip", "127.0.0.1")), r.ACL(Perms.READ, r.Id("world", "anyone"))],
]


class Workload:
    def __init__(self, seed: int, first_zxid: int = 1, session_base: int = 0x1000_0000_0000) -> None:
        self.rng = random.Random(seed)
        self.tree = DataTree()
        self.zxid = first_zxid - 1
        self.time_ms = START_TIME_MS
        self.next_session = session_base
        self.open_sessions: list[int] = []
        self.digest = tree_digest(self.tree)
        self.persistent: list[str] = ["/"]
        self.counter = 0

    def txns(self, count: int) -> Iterator[tuple[Any, Any, Any]]:
        for _ in range(count):
            yield self.step()

    def step(self) -> tuple[Any, Any, Any]:
        """Makes, applies and returns the next (TxnHeader, txn, TxnDigest)."""
        self.zxid += 1
        self.time_ms += self.rng.randint(0, 50)
        txn_type, session, txn = self._choose()
        header = r.TxnHeader(session, self.rng.randint(0, 1000), self.zxid, self.time_ms, txn_type)
        touched = self._touched(txn_type, txn, session)
        before = sum(node_digest(p, self.tree.nodes[p]) for p in touched if p in self.tree.nodes)
        result = self.tree.apply(header, txn)
        assert result.err == 0, (txn_type, txn, result.err)
        after = sum(node_digest(p, self.tree.nodes[p]) for p in touched if p in self.tree.nodes)
        self.digest = to_java_long(self.digest + after - before)
        if txn_type == OpCode.createSession:
            self.open_sessions.append(session)
        elif txn_type == OpCode.delete and txn.path in self.persistent:
            self.persistent.remove(txn.path)
        elif txn_type == OpCode.closeSession:
            self.open_sessions.remove(session)
        return header, txn, r.TxnDigest(DIGEST_VERSION, self.digest)

    def check_digest(self) -> None:
        assert self.digest == tree_digest(self.tree)

    # ------------------------------------------------------------------ choices

    def _choose(self) -> tuple[int, int, Any]:
        roll = self.rng.random()
        if not self.open_sessions or roll < 0.03:
            self.next_session += 1
            return OpCode.createSession, self.next_session, r.CreateSessionTxn(SESSION_TIMEOUT_MS)
        session = self.rng.choice(self.open_sessions)
        if roll < 0.05 and len(self.open_sessions) > 1:
            paths = sorted(self.tree.ephemerals_of(session))
            return OpCode.closeSession, session, r.CloseSessionTxn(paths)
        if roll < 0.55:
            return self._create(session)
        if roll < 0.72:
            return OpCode.setData, session, self._set_data(self.rng.choice(self._existing()))
        if roll < 0.78:
            path = self.rng.choice(self._existing())
            node = self.tree.nodes[path]
            return OpCode.setACL, session, r.SetACLTxn(path, self.rng.choice(ACL_CHOICES), node.aversion + 1)
        if roll < 0.92:
            leaf = self._leaf()
            if leaf is not None:
                return OpCode.delete, session, r.DeleteTxn(leaf)
            return self._create(session)
        return OpCode.multi, session, self._multi(session)

    def _existing(self) -> list[str]:
        return [p for p in self.persistent if p != "/"] or ["/"]

    def _leaf(self) -> str | None:
        candidates = [p for p in self.tree.nodes if p not in ("", "/") and not p.startswith("/zookeeper")
                      and not self.tree.nodes[p].children]
        return self.rng.choice(sorted(candidates)) if candidates else None

    def _data(self) -> bytes | None:
        kind = self.rng.random()
        if kind < 0.05:
            return None
        if kind < 0.15:
            return b""
        if kind < 0.9:
            return self.rng.randbytes(self.rng.randint(1, 64))
        return self.rng.randbytes(self.rng.randint(1000, 5000))

    def _new_path(self) -> tuple[str, str]:
        parent = self.rng.choice(self.persistent)
        self.counter += 1
        name = self.rng.choice(["n", "node-", "x", "\u00e9t\u00e9-", "seq-"]) + str(self.counter)
        if name.startswith("seq-"):
            name = f"seq-{self.tree.nodes[parent].cversion:010d}"
        return parent, (parent.rstrip("/") + "/" + name)

    def _create(self, session: int) -> tuple[int, int, Any]:
        parent, path = self._new_path()
        while path in self.tree.nodes:
            parent, path = self._new_path()
        parent_cversion = self.tree.nodes[parent].cversion + 1
        acl = self.rng.choice(ACL_CHOICES)
        data = self._data()
        kind = self.rng.random()
        if kind < 0.2:
            return OpCode.create, session, r.CreateTxn(path, data, acl, True, parent_cversion)
        if kind < 0.25:
            return OpCode.createContainer, session, r.CreateContainerTxn(path, data, acl, parent_cversion)
        if kind < 0.3:
            ttl_ms = self.rng.randint(1, 10**9)
            return OpCode.createTTL, session, r.CreateTTLTxn(path, data, acl, parent_cversion, ttl_ms)
        self.persistent.append(path)
        op = OpCode.create2 if kind < 0.6 else OpCode.create
        return op, session, r.CreateTxn(path, data, acl, False, parent_cversion)

    def _set_data(self, path: str) -> Any:
        return r.SetDataTxn(path, self._data(), self.tree.nodes[path].version + 1)

    def _multi(self, session: int) -> Any:
        subs = []
        _, path = self._new_path()
        while path in self.tree.nodes:
            _, path = self._new_path()
        parent = split_parent(path)[0]
        self.persistent.append(path)
        create = r.CreateTxn(path, self._data(), OPEN_ACL_UNSAFE, False, self.tree.nodes[parent].cversion + 1)
        subs.append(r.Txn(OpCode.create, create.to_bytes()))
        subs.append(r.Txn(OpCode.setData, r.SetDataTxn(path, b"multi", 1).to_bytes()))
        subs.append(r.Txn(OpCode.check, r.CheckVersionTxn(path, 1).to_bytes()))
        return r.MultiTxn(subs)

    # ------------------------------------------------------------------ digest bookkeeping

    def _touched(self, txn_type: int, txn: Any, session: int) -> set[str]:
        if txn_type in (OpCode.create, OpCode.create2, OpCode.createContainer, OpCode.createTTL,
                        OpCode.delete):
            return {txn.path, split_parent(txn.path)[0]}
        if txn_type in (OpCode.setData, OpCode.setACL):
            return {txn.path}
        if txn_type == OpCode.closeSession:
            paths = set(self.tree.ephemerals_of(session)) | set(txn.paths2Delete or ())
            return paths | {split_parent(p)[0] for p in paths}
        if txn_type == OpCode.multi:
            touched: set[str] = set()
            for sub in txn.txns:
                record = _SUB_RECORDS[sub.type].from_bytes(sub.data)
                touched |= self._touched(sub.type, record, session)
            return touched
        return set()


_SUB_RECORDS = {
    OpCode.create: r.CreateTxn,
    OpCode.setData: r.SetDataTxn,
    OpCode.check: r.CheckVersionTxn,
}

