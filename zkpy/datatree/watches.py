"""Watch registrations and their firing rules (ZooKeeper's WatchManager, 3.9 semantics).

Theory of operation: one `WatchManager` holds the data watches, another the child watches, as
ZooKeeper's DataTree does. A registration is (watcher, path, modes) where modes is a bit set:
STANDARD (one-shot, from getData/exists/getChildren), PERSISTENT and PERSISTENT_RECURSIVE
(from addWatch, registered in both managers). Since 3.9 one path may carry several modes for the
same watcher at once (ZOOKEEPER-4466).

`trigger(path, event_type)` returns the watchers to notify and drops their one-shot modes:
* at `path` itself every mode fires, except that a watcher registered only recursively never
  receives NodeChildrenChanged (ZOOKEEPER-4475);
* at each ancestor only PERSISTENT_RECURSIVE fires (only walked while any recursive watch exists);
* `suppress` skips watchers already told (a delete notifies a watcher once, not once per manager);
* a watcher that may not read the node (the `may_read` check) is not told, though its one-shot
  watch is spent.

A watcher is any hashable object (the server passes one per connection). The manager only
returns watchers; it never sends anything.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any

from zkpy.datatree.paths import parent_chain
from zkpy.jute.constants import EventType

STANDARD = 1
PERSISTENT = 2
RECURSIVE = 4

Watcher = Hashable
_NOBODY: frozenset[Watcher] = frozenset()
"""What a trigger with no watch to fire returns: most changes have none, and this one is shared."""


class WatchManager:
    __slots__ = ("_by_path", "_by_watcher", "_recursive_count", "may_read")

    def __init__(self) -> None:
        self._by_path: dict[str, dict[Watcher, int]] = {}
        self._by_watcher: dict[Watcher, set[str]] = {}
        self._recursive_count = 0
        # (watcher, acl) -> bool. A watch event is delivered only to a watcher that may read the
        # node (NIOServerCnxn.process checks the ACL, CVE-2024-23944); the server supplies it.
        self.may_read: Callable[[Watcher, Any], bool] | None = None

    def add(self, path: str, watcher: Watcher, mode: int = STANDARD) -> None:
        watchers = self._by_path.get(path)
        if watchers is None:
            watchers = self._by_path[path] = {}
        old = watchers.get(watcher, 0)
        if old & RECURSIVE == 0 and mode & RECURSIVE:
            self._recursive_count += 1
        watchers[watcher] = old | mode
        paths = self._by_watcher.get(watcher)
        if paths is None:
            paths = self._by_watcher[watcher] = set()
        paths.add(path)

    def _set_modes(self, path: str, watchers: dict[Watcher, int], watcher: Watcher, modes: int) -> None:
        old = watchers[watcher]
        if old & RECURSIVE and not modes & RECURSIVE:
            self._recursive_count -= 1
        if modes:
            watchers[watcher] = modes
            return
        del watchers[watcher]
        if not watchers:
            del self._by_path[path]
        # Like ZooKeeper's watch2Paths, a watcher keeps its (possibly empty) entry until its
        # connection goes: wchs/wchc count it ("1 connections watching 0 paths").
        self._by_watcher[watcher].discard(path)

    def trigger(
        self, path: str, event_type: int, suppress: set[Watcher] | frozenset[Watcher] | None = None, acl: Any = None
    ) -> set[Watcher] | frozenset[Watcher]:
        watchers = self._by_path.get(path)
        if not watchers and not self._recursive_count:
            return _NOBODY
        fired: set[Watcher] = set()
        if watchers:
            for watcher, modes in list(watchers.items()):
                if event_type == EventType.NodeChildrenChanged and modes == RECURSIVE:
                    continue
                fired.add(watcher)
                if modes & STANDARD:
                    self._set_modes(path, watchers, watcher, modes & ~STANDARD)
        if self._recursive_count and event_type != EventType.NodeChildrenChanged:
            for ancestor in parent_chain(path):
                above = self._by_path.get(ancestor)
                if above:
                    for watcher, modes in above.items():
                        if modes & RECURSIVE:
                            fired.add(watcher)
        if suppress:
            fired -= suppress
        may_read = self.may_read
        if may_read is not None and fired and acl is not None:
            # The watch is used up either way; the event only reaches who may read the node.
            fired = {watcher for watcher in fired if may_read(watcher, acl)}
        return fired

    def contains(self, path: str, watcher: Watcher, mode_mask: int = STANDARD | PERSISTENT | RECURSIVE) -> bool:
        watchers = self._by_path.get(path)
        return bool(watchers and watchers.get(watcher, 0) & mode_mask)

    def remove(self, path: str, watcher: Watcher, mode_mask: int) -> bool:
        """Drops the modes in `mode_mask` of one registration; False when none matched."""
        watchers = self._by_path.get(path)
        if not watchers or not watchers.get(watcher, 0) & mode_mask:
            return False
        self._set_modes(path, watchers, watcher, watchers[watcher] & ~mode_mask)
        return True

    def remove_watcher(self, watcher: Watcher) -> None:
        for path in self._by_watcher.get(watcher, set()).copy():
            self._set_modes(path, self._by_path[path], watcher, 0)
        self._by_watcher.pop(watcher, None)

    def paths_of(self, watcher: Watcher) -> Iterable[str]:
        return self._by_watcher.get(watcher, ())

    def watchers_of(self, path: str) -> Iterable[Watcher]:
        return self._by_path.get(path, {}).keys()

    def by_path(self) -> dict[str, dict[Watcher, int]]:
        return self._by_path

    def by_watcher(self) -> dict[Watcher, set[str]]:
        return self._by_watcher

    @property
    def watch_count(self) -> int:
        return sum(len(w) for w in self._by_path.values())
