"""FastLeaderElection as a deterministic state machine.

Theory of operation
-------------------
Mirrors ZooKeeper's `FastLeaderElection` (its `lookForLeader` loop and its `WorkerReceiver`
thread) without threads, sockets or clocks. The host feeds in what happened --
`start(current_epoch, last_zxid, now_ms)` when the server goes LOOKING,
`on_notification(from_sid, notification, now_ms)` for every decoded message, `tick(now_ms)` at
or after `next_deadline_ms()` -- and carries out the returned effects: `Send` and `Broadcast`
put notifications on the election connections (a Broadcast is also the cue to dial peers that
have no connection, as ZooKeeper's connectAll does), `Decided` means the peer leaves the
election as LEADING, FOLLOWING or OBSERVING.

One instance lives as long as the server. Its logical clock (the election epoch, "round")
counts the elections it started and never goes back. While the server leads, follows or
observes, the instance keeps answering: a LOOKING voter gets the vote this server settled on,
with its state, so latecomers can find the leader. The host reports a new epoch of that vote
with `update_current_epoch` (QuorumPeer.updateElectionVote) and calls `start` again when the
server goes back to LOOKING.

Inside an election:
- The proposal starts as the server's own vote (sid, last zxid, current epoch); an observer
  proposes nobody (Long.MIN_VALUE). A better vote (vote.beats: peer epoch, zxid, sid) from a
  voter at the same round replaces it and is announced to every voter. A higher round resets the
  round, the LOOKING tally and the proposal (to the better of the sender's vote and our own).
  Lower rounds are ignored, but their sender is told our proposal so it catches up.
- Announcements reach this server too: ZooKeeper loops them back through its receive queue, and
  so does this class (a local inbox drained before each call returns), so our own vote is
  counted like anybody's.
- When a quorum of voters' LOOKING votes at this round equals our proposal, the election waits
  200 ms (finalize wait) for something better. A better vote resumes the election; anything
  else is dropped and restarts the wait; silence decides for the proposal.
  zkpy's one departure: when the host says which voters it can reach (`reachable`) and every
  one of them has already voted for the proposal at this round, nobody can send a better vote
  without first connecting, so the election decides at once instead of waiting; the host also
  reports a lost link (`on_link_lost`), since a dead leader's link often closes just after the
  quorum formed. This shortens a failover by the finalize wait. It cannot make ZAB unsafe: a
  leader whose history is behind a follower's gives up at ACKEPOCH, whoever elected it.
- FOLLOWING/LEADING notifications mean an ensemble already runs. Counted at our round, or
  across all rounds (the "out of election" tally), a quorum on one leader that itself says it
  is LEADING (or that is us, at our round) decides at once.
- With no notification for `notTimeout` ms the vote is broadcast again and the timeout doubles,
  from 200 ms up to 60 s.
- Messages from non-voters (observers) never enter the election: they get our current vote as
  a reply. Votes for non-voters are ignored, so observers never win.

A reconfiguration activated while leading or following switches the verifier (`reconfigure`);
not modelled: acting on a newer config carried by a notification (a peer that missed a
reconfig learns it from the leader's NEWLEADER instead), the two-node oracle (QuorumOracleMaj),
and the leader's bookkeeping of LOOKING learners.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

from zkpy.zab.election_wire import CURRENT_NOTIFICATION_VERSION, Notification, PeerState
from zkpy.zab.quorum import QuorumMaj
from zkpy.zab.vote import Vote, beats, supporters
from zkpy.zab.zxid import LONG_MIN

MIN_NOTIFICATION_INTERVAL_MS = 200
MAX_NOTIFICATION_INTERVAL_MS = 60_000
FINALIZE_WAIT_MS = 200


@dataclass(frozen=True, slots=True)
class Send:
    """Put `notification` on the connection to `to_sid`."""

    to_sid: int
    notification: Notification


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send `notification` to every sid in `to_sids` (connecting to those not connected)."""

    to_sids: tuple[int, ...]
    notification: Notification


@dataclass(frozen=True, slots=True)
class Decided:
    """The election is over: this server is now `state`, following (or being) `leader_sid`."""

    leader_sid: int
    state: int
    """A PeerState."""
    vote: Vote
    elapsed_ms: int


Effect = Send | Broadcast | Decided


@dataclass(frozen=True, slots=True)
class _Proposal:
    leader: int
    zxid: int
    peer_epoch: int


class Election:
    """One server's leader election; see the module docstring."""

    def __init__(
        self,
        my_id: int,
        verifier: QuorumMaj,
        *,
        min_notification_interval_ms: int = MIN_NOTIFICATION_INTERVAL_MS,
        max_notification_interval_ms: int = MAX_NOTIFICATION_INTERVAL_MS,
        finalize_wait_ms: int = FINALIZE_WAIT_MS,
    ) -> None:
        self.my_id = my_id
        self.verifier = verifier
        self.min_notification_interval_ms = min_notification_interval_ms
        self.max_notification_interval_ms = max_notification_interval_ms
        self.finalize_wait_ms = finalize_wait_ms
        self.participant = verifier.is_voter(my_id)
        self.state = PeerState.LOOKING
        self.logical_clock = 0
        self.current_vote: Vote | None = None
        """QuorumPeer.currentVote: what this server answers with while out of election."""
        self._config = verifier.config_bytes()
        self._others = tuple(sorted(sid for sid in verifier.voting_members if sid != my_id))
        self._proposal = _Proposal(-1, -1, 0)
        self._own = _Proposal(-1, -1, 0)
        self._looking = False
        self._inbox: deque[tuple[int, Notification]] = deque()
        self._recvset: dict[int, Vote] = {}
        self._outofelection: dict[int, Vote] = {}
        self._not_timeout_ms = min_notification_interval_ms
        self._poll_deadline_ms = 0
        self._finalize_deadline_ms: int | None = None
        self._started_ms = 0
        self.reachable: frozenset[int] | None = None
        """Voters the host has a connection to (None: unknown, always wait the finalize wait)."""

    def reconfigure(self, verifier: QuorumMaj) -> None:
        """Count votes by a newly activated configuration from now on."""
        self.verifier = verifier
        self.participant = verifier.is_voter(self.my_id)
        self._config = verifier.config_bytes()
        self._others = tuple(sorted(sid for sid in verifier.voting_members if sid != self.my_id))

    # --- queries -------------------------------------------------------------------------------

    @property
    def looking(self) -> bool:
        """Whether an election is running (between `start` and `Decided`)."""
        return self._looking

    @property
    def proposal(self) -> Vote:
        """FastLeaderElection.getVote: the vote this server currently proposes."""
        p = self._proposal
        return Vote(p.leader, p.zxid, self.logical_clock, p.peer_epoch)

    @property
    def notification_timeout_ms(self) -> int:
        return self._not_timeout_ms

    def next_deadline_ms(self) -> int | None:
        """When `tick` has something to do, or None while no election runs."""
        if not self._looking:
            return None
        if self._finalize_deadline_ms is not None:
            return self._finalize_deadline_ms
        return self._poll_deadline_ms

    # --- inputs --------------------------------------------------------------------------------

    def start(self, current_epoch: int, last_zxid: int, now_ms: int) -> list[Effect]:
        """Begin a new round: the server has just become LOOKING (QuorumPeer -> lookForLeader)."""
        if self.current_vote is None:
            # QuorumPeer.startLeaderElection seeds the answer given to non-voters.
            self.current_vote = Vote(self.my_id, last_zxid, -1, current_epoch)
        if self.participant:
            self._own = _Proposal(self.my_id, last_zxid, current_epoch)
        else:
            self._own = _Proposal(LONG_MIN, LONG_MIN, LONG_MIN)
        self.state = PeerState.LOOKING
        self._looking = True
        self._recvset = {}
        self._outofelection = {}
        self._not_timeout_ms = self.min_notification_interval_ms
        self._finalize_deadline_ms = None
        self._started_ms = now_ms
        self.logical_clock += 1
        self._proposal = self._own
        out: list[Effect] = []
        self._send_notifications(out)
        self._poll_deadline_ms = now_ms + self._not_timeout_ms
        self._drain(now_ms, out)
        return out

    def on_notification(
        self, from_sid: int, notification: Notification, now_ms: int
    ) -> list[Effect]:
        """A notification decoded from the connection of `from_sid`."""
        out: list[Effect] = []
        self._receive(from_sid, notification, out)
        self._drain(now_ms, out)
        return out

    def tick(self, now_ms: int) -> list[Effect]:
        """Time has passed: decide after a quiet finalize wait, or re-announce after silence."""
        out: list[Effect] = []
        if not self._looking:
            return out
        if self._finalize_deadline_ms is not None:
            if now_ms >= self._finalize_deadline_ms:
                self._decide(self._proposal.leader, self.proposal, now_ms, out)
            return out
        if now_ms >= self._poll_deadline_ms:
            self._send_notifications(out)
            self._not_timeout_ms = min(self._not_timeout_ms * 2, self.max_notification_interval_ms)
            self._poll_deadline_ms = now_ms + self._not_timeout_ms
            self._drain(now_ms, out)
        return out

    def leave_role(self) -> None:
        """QuorumPeer.updateServerState when a role ends: this server is LOOKING again before its
        next round starts, so a notification arriving meanwhile waits in the inbox for that
        round (ZooKeeper's recvqueue) instead of being answered with the vote of the ensemble
        that just ended, which would cost the sender a notification timeout."""
        if not self._looking:
            self.state = PeerState.LOOKING

    def on_link_lost(self, reachable: frozenset[int], now_ms: int) -> list[Effect]:
        """The host lost its connection to a voter: during the finalize wait, the voters still
        reachable may now all agree (see the module docstring's departure)."""
        self.reachable = reachable
        out: list[Effect] = []
        if self._looking and self._finalize_deadline_ms is not None:
            self._decide_if_everyone_reachable_agrees(now_ms, out)
        return out

    def update_current_epoch(self, peer_epoch: int) -> None:
        """QuorumPeer.updateElectionVote: the settled vote now carries the ensemble's new epoch."""
        if self.current_vote is not None:
            self.current_vote = replace(self.current_vote, peer_epoch=peer_epoch)

    # --- WorkerReceiver ------------------------------------------------------------------------

    def _receive(self, sid: int, n: Notification, out: list[Effect]) -> None:
        cv = self.current_vote
        if not self.verifier.is_voter(sid):
            if cv is not None:
                out.append(Send(sid, self._message(self.state, cv, self.logical_clock)))
            return
        if n.state not in _STATES:
            return
        if self.state == PeerState.LOOKING:
            self._inbox.append((sid, n))
            if n.state == PeerState.LOOKING and n.election_epoch < self.logical_clock:
                out.append(
                    Send(sid, self._message(PeerState.LOOKING, self.proposal, self.logical_clock))
                )
        elif n.state == PeerState.LOOKING and cv is not None:
            out.append(Send(sid, self._message(self.state, cv, cv.election_epoch)))

    # --- lookForLeader -------------------------------------------------------------------------

    def _drain(self, now_ms: int, out: list[Effect]) -> None:
        while self._looking and self._inbox:
            sid, n = self._inbox.popleft()
            self._step(sid, n, now_ms, out)

    def _step(self, sid: int, n: Notification, now_ms: int, out: list[Effect]) -> None:
        if self._finalize_deadline_ms is not None:
            p = self._proposal
            if beats(
                n.leader, n.zxid, n.peer_epoch, p.leader, p.zxid, p.peer_epoch, self.verifier.weight
            ):
                # ZooKeeper puts it back at the tail of the queue and resumes the election.
                self._finalize_deadline_ms = None
                self._inbox.append((sid, n))
            else:
                self._finalize_deadline_ms = now_ms + self.finalize_wait_ms
                if (n.state == PeerState.LOOKING and n.election_epoch == self.logical_clock
                        and self.verifier.is_voter(sid)):
                    self._recvset[sid] = Vote(n.leader, n.zxid, n.election_epoch, n.peer_epoch)
                self._decide_if_everyone_reachable_agrees(now_ms, out)
            return
        self._poll_deadline_ms = now_ms + self._not_timeout_ms
        if not (self.verifier.is_voter(sid) and self.verifier.is_voter(n.leader)):
            return
        state = n.state
        if state == PeerState.LOOKING:
            self._looking_vote(sid, n, now_ms, out)
        elif state != PeerState.OBSERVING:
            self._established_vote(sid, n, state, now_ms, out)

    def _looking_vote(self, sid: int, n: Notification, now_ms: int, out: list[Effect]) -> None:
        own = self._own
        if own.zxid == -1 or n.zxid == -1:
            return
        weight = self.verifier.weight
        if n.election_epoch > self.logical_clock:
            self.logical_clock = n.election_epoch
            self._recvset.clear()
            if beats(n.leader, n.zxid, n.peer_epoch, own.leader, own.zxid, own.peer_epoch, weight):
                self._proposal = _Proposal(n.leader, n.zxid, n.peer_epoch)
            else:
                self._proposal = own
            self._send_notifications(out)
        elif n.election_epoch < self.logical_clock:
            return
        else:
            p = self._proposal
            if beats(n.leader, n.zxid, n.peer_epoch, p.leader, p.zxid, p.peer_epoch, weight):
                self._proposal = _Proposal(n.leader, n.zxid, n.peer_epoch)
                self._send_notifications(out)
        self._recvset[sid] = Vote(n.leader, n.zxid, n.election_epoch, n.peer_epoch)
        if self.verifier.contains_quorum(supporters(self._recvset, self.proposal)):
            self._finalize_deadline_ms = now_ms + self.finalize_wait_ms
            self._decide_if_everyone_reachable_agrees(now_ms, out)

    def _decide_if_everyone_reachable_agrees(self, now_ms: int, out: list[Effect]) -> None:
        if self.reachable is None:
            return
        expected = {sid for sid in self.reachable if self.verifier.is_voter(sid)}
        if self.participant:
            expected.add(self.my_id)
        if expected <= supporters(self._recvset, self.proposal):
            self._decide(self._proposal.leader, self.proposal, now_ms, out)

    def _established_vote(
        self, sid: int, n: Notification, state: int, now_ms: int, out: list[Effect]
    ) -> None:
        vote = Vote(n.leader, n.zxid, n.election_epoch, n.peer_epoch, state, n.version)
        end_vote = Vote(n.leader, n.zxid, n.election_epoch, n.peer_epoch)
        if n.election_epoch == self.logical_clock:
            # Stored without the message version, as ZooKeeper does for this tally.
            self._recvset[sid] = Vote(n.leader, n.zxid, n.election_epoch, n.peer_epoch, state)
            if self._quorum_behind_leader(self._recvset, vote):
                self._decide(n.leader, end_vote, now_ms, out)
                return
        self._outofelection[sid] = vote
        if self._quorum_behind_leader(self._outofelection, vote):
            self.logical_clock = n.election_epoch
            self._decide(n.leader, end_vote, now_ms, out)

    def _quorum_behind_leader(self, votes: dict[int, Vote], vote: Vote) -> bool:
        """getVoteTracker(...).hasAllQuorums() && checkLeader(...)."""
        if not self.verifier.contains_quorum(supporters(votes, vote)):
            return False
        if vote.leader != self.my_id:
            leader_vote = votes.get(vote.leader)
            return leader_vote is not None and leader_vote.state == PeerState.LEADING
        return self.logical_clock == vote.election_epoch

    def _decide(self, leader: int, end_vote: Vote, now_ms: int, out: list[Effect]) -> None:
        if leader == self.my_id:
            state = PeerState.LEADING
        else:
            state = PeerState.FOLLOWING if self.participant else PeerState.OBSERVING
        self.state = state
        self.current_vote = end_vote
        self._looking = False
        self._inbox.clear()
        self._finalize_deadline_ms = None
        out.append(Decided(leader, state, end_vote, now_ms - self._started_ms))

    def _send_notifications(self, out: list[Effect]) -> None:
        n = self._message(PeerState.LOOKING, self.proposal, self.logical_clock)
        if self._others:
            out.append(Broadcast(self._others, n))
        if self.participant:
            self._receive(self.my_id, n, out)

    def _message(self, state: int, vote: Vote, election_epoch: int) -> Notification:
        return Notification(
            int(state),
            vote.leader,
            vote.zxid,
            election_epoch,
            vote.peer_epoch,
            CURRENT_NOTIFICATION_VERSION,
            self._config,
        )


_STATES = PeerState.values()
