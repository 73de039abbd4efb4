from __future__ import annotations

from zkpy.datatree.watches import PERSISTENT, RECURSIVE, STANDARD, WatchManager
from zkpy.jute.constants import EventType


def test_standard_watch_fires_once() -> None:
    wm = WatchManager()
    wm.add("/a", "w1")
    assert wm.trigger("/a", EventType.NodeDataChanged) == {"w1"}
    assert wm.trigger("/a", EventType.NodeDataChanged) == set()
    assert wm.watch_count == 0


def test_persistent_watch_stays_and_shares_path_with_standard() -> None:
    wm = WatchManager()
    wm.add("/a", "w1", PERSISTENT)
    wm.add("/a", "w1", STANDARD)
    assert wm.trigger("/a", EventType.NodeDataChanged) == {"w1"}
    assert wm.contains("/a", "w1", PERSISTENT)
    assert not wm.contains("/a", "w1", STANDARD)
    assert wm.trigger("/a", EventType.NodeDataChanged) == {"w1"}


def test_recursive_watch_covers_descendants_but_not_child_events() -> None:
    wm = WatchManager()
    wm.add("/a", "w1", RECURSIVE)
    assert wm.trigger("/a/b/c", EventType.NodeCreated) == {"w1"}
    assert wm.trigger("/a", EventType.NodeChildrenChanged) == set()
    assert wm.trigger("/b", EventType.NodeCreated) == set()


def test_suppress_skips_watchers_already_told() -> None:
    wm = WatchManager()
    wm.add("/a", "w1")
    wm.add("/a", "w2")
    assert wm.trigger("/a", EventType.NodeDeleted, suppress={"w1"}) == {"w2"}


def test_remove_watcher_drops_every_registration() -> None:
    wm = WatchManager()
    wm.add("/a", "w1", RECURSIVE)
    wm.add("/b", "w1")
    wm.remove_watcher("w1")
    assert wm.watch_count == 0
    assert wm.trigger("/a/x", EventType.NodeCreated) == set()


def test_remove_one_mode() -> None:
    wm = WatchManager()
    wm.add("/a", "w1", PERSISTENT | STANDARD)
    assert wm.remove("/a", "w1", PERSISTENT)
    assert not wm.remove("/a", "w1", PERSISTENT)
    assert wm.contains("/a", "w1", STANDARD)
