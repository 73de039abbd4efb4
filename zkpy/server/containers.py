"""Which containers and TTL nodes to reap (ZooKeeper's ContainerManager.getCandidates).

A container is deleted once it is empty and has had a child (its stored cversion is above 0),
or, with znode.container.maxNeverUsedIntervalMs set, once it has stayed empty and unused longer
than that. A TTL node is deleted once it has no children and its mtime is older than its TTL.
The server turns each candidate into a deleteContainer request; prep re-checks it, so a
candidate that gained a child meanwhile is refused there (NOTEMPTY), not deleted.
"""

from __future__ import annotations

from dataclasses import dataclass

from zkpy.datatree.tree import DataTree, ttl_of


@dataclass(frozen=True, slots=True)
class ReaperPolicy:
    check_interval_ms: int = 60_000
    max_per_minute: int = 10_000
    max_never_used_interval_ms: int = 0

    @property
    def max_per_check(self) -> int:
        return max(1, self.max_per_minute * self.check_interval_ms // 60_000)


def reap_candidates(tree: DataTree, now_ms: int, policy: ReaperPolicy) -> list[str]:
    candidates: list[str] = []
    for path in sorted(tree.containers):
        node = tree.get_node(path)
        if node is None or node.children:
            continue
        if node.cversion > 0:
            candidates.append(path)
        elif policy.max_never_used_interval_ms and now_ms - node.mtime > policy.max_never_used_interval_ms:
            candidates.append(path)
    for path in sorted(tree.ttls):
        node = tree.get_node(path)
        if node is None or node.children:
            continue
        ttl_ms = ttl_of(node.ephemeral_owner)
        if ttl_ms and now_ms - node.mtime > ttl_ms:
            candidates.append(path)
    return candidates[: policy.max_per_check]
