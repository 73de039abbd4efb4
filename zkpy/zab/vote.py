"""Votes of FastLeaderElection: their total order and ZooKeeper's notion of "the same vote".

Theory of operation
-------------------
Mirrors ZooKeeper's `Vote` and `FastLeaderElection.totalOrderPredicate`.

Order. A vote proposes `leader` together with that candidate's `peer_epoch` (its current epoch)
and `zxid` (its last logged zxid). One vote beats another when its (peer_epoch, zxid, leader)
triple is larger, compared left to right; a candidate of weight 0 never beats anything. The
leader's sid breaks ties, so among equally up-to-date servers the largest sid wins.

Sameness (`Vote.equals`), used when counting supporters of a vote. If either vote was cast while
LOOKING, leader, zxid, election epoch and peer epoch must all match. Between two votes of servers
out of election (FOLLOWING/LEADING/OBSERVING) only the leader and the peer epoch must match --
their zxid and election epoch drift apart once the ensemble runs (ZOOKEEPER-1805) -- and only
the leader when exactly one of them comes from a pre-3.4.6 notification format (version 0),
whose peer epoch can differ during rolling upgrades (ZOOKEEPER-1732). The rule is not
transitive; `supporters` therefore compares every stored vote with the one vote in
question, as SyncedLearnerTracker does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from zkpy.zab.election_wire import PeerState
from zkpy.zab.zxid import hex_long


@dataclass(frozen=True, slots=True)
class Vote:
    leader: int
    zxid: int
    election_epoch: int
    peer_epoch: int
    state: int = PeerState.LOOKING
    version: int = 0
    """The notification format version the vote arrived in (0 for votes built locally)."""

    def __str__(self) -> str:
        return f"({self.leader}, {hex_long(self.zxid)}, {hex_long(self.peer_epoch)})"


def beats(
    new_leader: int,
    new_zxid: int,
    new_epoch: int,
    cur_leader: int,
    cur_zxid: int,
    cur_epoch: int,
    weight: Callable[[int], int],
) -> bool:
    """totalOrderPredicate: whether (new_*) should replace the current proposal (cur_*)."""
    if weight(new_leader) == 0:
        return False
    return (new_epoch, new_zxid, new_leader) > (cur_epoch, cur_zxid, cur_leader)


def same_vote(a: Vote, b: Vote) -> bool:
    """Vote.equals."""
    if a.state == PeerState.LOOKING or b.state == PeerState.LOOKING:
        return (
            a.leader == b.leader
            and a.zxid == b.zxid
            and a.election_epoch == b.election_epoch
            and a.peer_epoch == b.peer_epoch
        )
    if (a.version > 0) != (b.version > 0):
        return a.leader == b.leader
    return a.leader == b.leader and a.peer_epoch == b.peer_epoch


def supporters(votes: Mapping[int, Vote], vote: Vote) -> set[int]:
    """The sids whose stored vote is the same as `vote` (getVoteTracker's ack set)."""
    return {sid for sid, stored in votes.items() if same_vote(vote, stored)}
