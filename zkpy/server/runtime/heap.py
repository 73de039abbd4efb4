"""The cyclic garbage collector's settings for a server process.

Theory of operation: a server's heap is one large, long-lived database (every znode, its data,
ACL and children) plus short-lived objects of each request, which reference counting frees as
soon as the reply is out. The cyclic collector finds no garbage in either, yet with CPython's
default thresholds it runs a young collection every 700 container allocations -- every few
requests -- and each one walks every request in flight, while full collections walk the whole
database (5% of the event loop's time at 15k writes/s, measured with py-spy --native).

So young collections run only every `YOUNG_COLLECTION_ALLOCATIONS` allocations, and a database the
server takes into service is frozen (gc.freeze: moved where the collector never looks). Frozen
objects are still freed by reference counting when dropped; only reference cycles among them would
outlive their use, and a database holds none. Before a new database is frozen the previous freeze
is undone, so whatever the replaced one leaves behind is collectable again.
"""

from __future__ import annotations

import gc

YOUNG_COLLECTION_ALLOCATIONS = 50_000
YOUNGER_COLLECTIONS_PER_OLDER = 20


def configure() -> None:
    gc.set_threshold(YOUNG_COLLECTION_ALLOCATIONS, YOUNGER_COLLECTIONS_PER_OLDER,
                     YOUNGER_COLLECTIONS_PER_OLDER)


def hold_database() -> None:
    """The database just loaded (restored, received by SNAP, reloaded) is long-lived: freeze it."""
    gc.unfreeze()
    gc.freeze()
