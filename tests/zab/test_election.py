"""Scenario tests of the FastLeaderElection core: scripted inputs, expected effects."""

from __future__ import annotations

from collections import deque

import pytest

from tests.zab.sim import ensemble
from zkpy.zab.election import Broadcast, Decided, Effect, Election, Send
from zkpy.zab.election_wire import Notification, PeerState
from zkpy.zab.quorum import QuorumMaj
from zkpy.zab.vote import Vote
from zkpy.zab.zxid import LONG_MIN, make_zxid

LOOKING, FOLLOWING, LEADING, OBSERVING = PeerState.LOOKING, PeerState.FOLLOWING, PeerState.LEADING, PeerState.OBSERVING


class Wire:
    """Instant, ordered delivery between Election instances; time moves only when told."""

    def __init__(self, verifier: QuorumMaj, sids: list[int] | None = None) -> None:
        self.verifier = verifier
        members = sids if sids is not None else sorted(verifier.members)
        self.elections = {sid: Election(sid, verifier) for sid in members}
        self.queue: deque[tuple[int, int, Notification]] = deque()
        self.decided: dict[int, Decided] = {}
        self.now_ms = 0
        self.sent = 0

    def start(self, sid: int, epoch: int, zxid: int) -> None:
        self.route(sid, self.elections[sid].start(epoch, zxid, self.now_ms))

    def route(self, from_sid: int, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                targets: tuple[int, ...] = (effect.to_sid,)
            elif isinstance(effect, Broadcast):
                targets = effect.to_sids
            else:
                self.decided[from_sid] = effect
                continue
            for to_sid in targets:
                if to_sid in self.elections:
                    self.queue.append((from_sid, to_sid, effect.notification))

    def flush(self) -> None:
        while self.queue:
            from_sid, to_sid, n = self.queue.popleft()
            self.sent += 1
            self.route(to_sid, self.elections[to_sid].on_notification(from_sid, n, self.now_ms))

    def advance(self, ms: int) -> None:
        self.now_ms += ms
        for sid, election in self.elections.items():
            self.route(sid, election.tick(self.now_ms))
        self.flush()

    def leaders(self) -> set[int]:
        return {d.leader_sid for d in self.decided.values()}


def note(state: int, leader: int, zxid: int, election_epoch: int, peer_epoch: int) -> Notification:
    return Notification(state, leader, zxid, election_epoch, peer_epoch, 2, b"")


# --- everyone LOOKING --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("initial", "leader"),
    [
        # The epoch outranks the zxid...
        ({1: (1, make_zxid(1, 9)), 2: (2, make_zxid(2, 1)), 3: (1, make_zxid(1, 12))}, 2),
        # ...the zxid outranks the sid...
        ({1: (3, make_zxid(3, 7)), 2: (3, make_zxid(3, 5)), 3: (3, make_zxid(3, 6))}, 1),
        # ...and the sid breaks ties.
        ({1: (0, 0), 2: (0, 0), 3: (0, 0)}, 3),
        ({1: (4, 17), 2: (4, 17), 3: (4, 16), 4: (4, 17), 5: (2, 99)}, 4),
        ({1: (1, 5), 2: (1, 4), 3: (1, 3), 4: (1, 2), 5: (1, 1)}, 1),
    ],
)
def test_everyone_looking_elects_the_best_vote(
    initial: dict[int, tuple[int, int]], leader: int
) -> None:
    wire = Wire(ensemble(len(initial)))
    for sid, (epoch, zxid) in initial.items():
        wire.start(sid, epoch, zxid)
    wire.flush()
    assert wire.decided == {}, "nobody decides before the finalize wait"
    wire.advance(199)
    assert wire.decided == {}
    wire.advance(1)
    assert wire.leaders() == {leader}
    for sid, decided in wire.decided.items():
        assert decided.state == (PeerState.LEADING if sid == leader else PeerState.FOLLOWING)
        epoch, zxid = initial[leader]
        assert decided.vote == Vote(leader, zxid, 1, epoch)
        assert wire.elections[sid].current_vote == decided.vote
        assert decided.elapsed_ms == 200


def test_start_announces_the_own_vote_to_every_other_voter() -> None:
    qv = ensemble(3, observers=1)
    election = Election(2, qv)
    effects = election.start(current_epoch=5, last_zxid=make_zxid(5, 3), now_ms=1000)
    assert effects == [
        Broadcast((1, 3), Notification(LOOKING, 2, make_zxid(5, 3), 1, 5, 2, qv.config_bytes()))
    ]
    assert election.logical_clock == 1
    assert election.proposal == Vote(2, make_zxid(5, 3), 1, 5)
    assert election.next_deadline_ms() == 1200


def test_single_voter_elects_itself_after_the_finalize_wait() -> None:
    election = Election(1, ensemble(1))
    assert election.start(0, 0, now_ms=0) == []
    assert election.tick(199) == []
    [decided] = election.tick(200)
    assert decided == Decided(1, PeerState.LEADING, Vote(1, 0, 1, 0), 200)


# --- finalize wait and timeouts ----------------------------------------------------------------


def test_finalize_wait_restarts_on_stale_news_and_ends_on_better_news() -> None:
    election = Election(1, ensemble(3))
    election.start(0, 5, now_ms=0)
    election.on_notification(2, note(LOOKING, 1, 5, 1, 0), now_ms=10)  # 2 agrees: quorum {1, 2}
    assert election.next_deadline_ms() == 210
    election.on_notification(3, note(LOOKING, 3, 4, 1, 0), now_ms=100)  # worse: dropped, wait again
    assert election.next_deadline_ms() == 300
    assert election.tick(250) == []
    effects = election.on_notification(3, note(LOOKING, 3, 9, 1, 0), now_ms=280)  # better: resume
    cfg = election.verifier.config_bytes()
    assert effects == [Broadcast((2, 3), Notification(LOOKING, 3, 9, 1, 0, 2, cfg))]
    assert election.looking and election.proposal == Vote(3, 9, 1, 0)
    assert election.next_deadline_ms() == 280 + 200


def test_when_every_reachable_voter_agrees_the_election_decides_without_the_finalize_wait() -> None:
    # A failover: 3 is gone, 1 and 2 reach each other and agree on 2 at once.
    follower, leader = Election(1, ensemble(3)), Election(2, ensemble(3))
    for election in (follower, leader):
        election.reachable = frozenset({1, 2})
    follower.start(4, make_zxid(4, 7), now_ms=0)
    leader.start(4, make_zxid(4, 9), now_ms=0)
    [decided] = follower.on_notification(2, note(LOOKING, 2, make_zxid(4, 9), 1, 4), now_ms=3)[-1:]
    assert decided == Decided(2, PeerState.FOLLOWING, Vote(2, make_zxid(4, 9), 1, 4), 3)
    [decided] = leader.on_notification(1, note(LOOKING, 2, make_zxid(4, 9), 1, 4), now_ms=4)
    assert decided == Decided(2, PeerState.LEADING, Vote(2, make_zxid(4, 9), 1, 4), 4)


def test_a_reachable_voter_not_heard_yet_keeps_the_finalize_wait() -> None:
    election = Election(1, ensemble(3))
    election.reachable = frozenset({2, 3})
    election.start(0, 5, now_ms=0)
    assert election.on_notification(2, note(LOOKING, 1, 5, 1, 0), now_ms=10) == []  # 3 unheard
    assert election.next_deadline_ms() == 210
    # 3 agrees during the wait: now everyone reachable has, and the election ends there.
    [decided] = election.on_notification(3, note(LOOKING, 1, 5, 1, 0), now_ms=50)
    assert decided == Decided(1, PeerState.LEADING, Vote(1, 5, 1, 0), 50)


def test_losing_the_link_to_the_voter_not_heard_yet_ends_the_finalize_wait() -> None:
    # A failover: the dead leader 3's link closes only after 1 and 2 formed their quorum.
    election = Election(2, ensemble(3))
    election.reachable = frozenset({1, 3})
    election.start(4, make_zxid(4, 9), now_ms=0)
    assert election.on_notification(1, note(LOOKING, 2, make_zxid(4, 9), 1, 4), now_ms=2) == []
    [decided] = election.on_link_lost(frozenset({1}), now_ms=5)
    assert decided == Decided(2, PeerState.LEADING, Vote(2, make_zxid(4, 9), 1, 4), 5)


def test_a_lost_link_decides_nothing_before_a_quorum_agrees() -> None:
    election = Election(1, ensemble(3))
    election.reachable = frozenset({2, 3})
    election.start(0, 5, now_ms=0)
    assert election.on_link_lost(frozenset({2}), now_ms=5) == []
    assert election.looking and election.next_deadline_ms() == 200  # the notification timeout


def test_notification_timeout_doubles_up_to_the_maximum() -> None:
    election = Election(1, ensemble(3), max_notification_interval_ms=1000)
    election.start(0, 0, now_ms=0)
    seen = []
    now = 0
    for _ in range(6):
        deadline = election.next_deadline_ms()
        assert deadline is not None
        assert election.tick(deadline - 1) == []
        now = deadline
        [effect] = election.tick(now)
        assert isinstance(effect, Broadcast) and effect.notification.leader == 1
        seen.append(election.notification_timeout_ms)
    assert seen == [400, 800, 1000, 1000, 1000, 1000]


def test_any_voter_notification_postpones_the_timeout() -> None:
    election = Election(1, ensemble(3))
    election.start(0, 5, now_ms=0)
    election.on_notification(2, note(LOOKING, 2, 1, 1, 0), now_ms=150)
    assert election.next_deadline_ms() == 350
    assert election.tick(349) == []


def test_default_intervals() -> None:
    election = Election(1, ensemble(3))
    assert (election.min_notification_interval_ms, election.max_notification_interval_ms) == (
        200,
        60_000,
    )
    assert election.finalize_wait_ms == 200


# --- logical clock -----------------------------------------------------------------------------


def test_higher_round_resets_clock_tally_and_proposal() -> None:
    election = Election(1, ensemble(5))
    election.start(0, 9, now_ms=0)
    election.on_notification(2, note(LOOKING, 1, 9, 1, 0), now_ms=1)
    # Round 4 proposes a worse leader: the clock jumps, the old tally goes, our own vote is back.
    effects = election.on_notification(3, note(LOOKING, 3, 2, 4, 0), now_ms=5)
    assert election.logical_clock == 4
    cfg = election.verifier.config_bytes()
    assert effects == [Broadcast((2, 3, 4, 5), Notification(LOOKING, 1, 9, 4, 0, 2, cfg))]
    # 2's round-1 agreement no longer counts: {1, 4} at round 4 is not a quorum of 5...
    election.on_notification(4, note(LOOKING, 1, 9, 4, 0), now_ms=6)
    assert election.next_deadline_ms() == 206
    # ...but a third vote at round 4 is.
    election.on_notification(2, note(LOOKING, 1, 9, 4, 0), now_ms=7)
    assert election.next_deadline_ms() == 207


def test_during_the_finalize_wait_only_a_better_vote_counts_even_from_a_later_round() -> None:
    election = Election(1, ensemble(3))
    election.start(0, 9, now_ms=0)
    election.on_notification(2, note(LOOKING, 1, 9, 1, 0), now_ms=1)
    assert election.next_deadline_ms() == 201
    assert election.on_notification(3, note(LOOKING, 3, 2, 4, 0), now_ms=5) == []
    assert election.logical_clock == 1
    assert election.tick(205) == [Decided(1, PeerState.LEADING, Vote(1, 9, 1, 0), 205)]


def test_lagging_looking_peer_is_told_our_proposal() -> None:
    election = Election(1, ensemble(3))
    election.start(0, 9, now_ms=0)
    election.on_notification(2, note(LOOKING, 2, 1, 3, 0), now_ms=1)  # round 3: take its round
    effects = election.on_notification(3, note(LOOKING, 3, 1, 1, 0), now_ms=2)
    assert (
        Send(3, Notification(LOOKING, 1, 9, 3, 0, 2, election.verifier.config_bytes())) in effects
    )


def test_logical_clock_survives_between_elections() -> None:
    election = Election(1, ensemble(1))
    election.start(0, 0, 0)
    election.tick(200)
    assert election.state == PeerState.LEADING
    election.start(1, make_zxid(1, 0), 1000)
    assert election.logical_clock == 2 and election.looking


def test_notifications_before_start_are_handled_after_our_announcement() -> None:
    election = Election(1, ensemble(3))
    assert election.on_notification(3, note(LOOKING, 3, 7, 1, 0), now_ms=0) == []
    effects = election.start(0, 5, now_ms=10)
    broadcasts = [e.notification.leader for e in effects if isinstance(e, Broadcast)]
    assert broadcasts == [1, 3]
    assert election.next_deadline_ms() == 210  # {1, 3} agree on 3


# --- zxid -1 -----------------------------------------------------------------------------------


def test_zxid_minus_one_is_ignored() -> None:
    election = Election(1, ensemble(3))
    election.start(0, 5, 0)
    assert election.on_notification(2, note(LOOKING, 2, -1, 1, 9), 1) == []
    assert election.proposal.leader == 1
    blind = Election(1, ensemble(3))
    blind.start(0, -1, 0)
    assert blind.on_notification(2, note(LOOKING, 2, 5, 1, 0), 1) == []
    assert blind.proposal.leader == 1


# --- joining a running ensemble ----------------------------------------------------------------


def running_ensemble(joiner: int = 4, leader: int = 3, rounds: int = 1) -> tuple[Wire, int]:
    """Voters 1..4 where 1..3 already elected `leader` at round `rounds`; `joiner` is off."""
    wire = Wire(ensemble(4), sids=[1, 2, 3])
    for _ in range(rounds):
        for sid in (1, 2, 3):
            wire.start(sid, 1, make_zxid(1, 10 + (sid == leader)))
        wire.flush()
        wire.advance(200)
    assert wire.leaders() == {leader}
    return wire, joiner


@pytest.mark.parametrize("rounds", [1, 3])
def test_joiner_learns_the_leader_from_following_and_leading_peers(rounds: int) -> None:
    # Round 1: the joiner's round equals the ensemble's (recvset); round 3: it lags (outofelection).
    wire, joiner = running_ensemble(rounds=rounds)
    for sid in (1, 2, 3):
        wire.elections[sid].update_current_epoch(2)  # the leader established epoch 2
    wire.decided.clear()
    wire.elections[joiner] = Election(joiner, wire.verifier)
    wire.start(joiner, 1, make_zxid(1, 30))  # its zxid is the best, but an ensemble already runs
    wire.flush()
    assert wire.decided[joiner] == Decided(
        3, PeerState.FOLLOWING, Vote(3, make_zxid(1, 11), rounds, 2), 0
    )
    assert wire.elections[joiner].logical_clock == rounds


def test_joiner_waits_for_the_leader_itself_to_say_leading() -> None:
    election = Election(4, ensemble(4))
    election.start(1, 30, now_ms=0)
    for sid in (1, 2):
        assert not any(
            isinstance(e, Decided)
            for e in election.on_notification(sid, note(FOLLOWING, 3, 11, 1, 2), 1)
        )
    # A quorum of 3 is not there yet (1, 2 follow; 4's own vote is LOOKING): nothing yet.
    assert not any(
        isinstance(e, Decided) for e in election.on_notification(1, note(FOLLOWING, 3, 11, 1, 2), 2)
    )
    effects = election.on_notification(3, note(LEADING, 3, 11, 1, 2), 3)
    assert [e for e in effects if isinstance(e, Decided)] == [
        Decided(3, PeerState.FOLLOWING, Vote(3, 11, 1, 2), 3)
    ]


def test_following_quorum_without_the_leader_does_not_decide() -> None:
    election = Election(5, ensemble(5))
    election.start(1, 30, now_ms=0)
    for sid in (1, 2, 4):
        effects = election.on_notification(sid, note(FOLLOWING, 3, 11, 7, 2), sid)
        assert not any(isinstance(e, Decided) for e in effects)
    assert election.looking


def test_out_of_election_votes_match_on_leader_and_peer_epoch_only() -> None:
    election = Election(4, ensemble(4))
    election.start(0, 0, now_ms=0)
    # Different zxids and rounds (ZOOKEEPER-1805) but one leader and epoch: that is one vote.
    election.on_notification(1, note(FOLLOWING, 3, 11, 5, 2), 1)
    election.on_notification(2, note(FOLLOWING, 3, 12, 6, 2), 2)
    [decided] = [
        e
        for e in election.on_notification(3, note(LEADING, 3, 13, 7, 2), 3)
        if isinstance(e, Decided)
    ]
    assert decided.vote == Vote(3, 13, 7, 2)
    assert election.logical_clock == 7


def test_out_of_election_votes_with_different_epochs_do_not_add_up() -> None:
    election = Election(4, ensemble(4))
    election.start(0, 0, now_ms=0)
    election.on_notification(1, note(FOLLOWING, 3, 11, 5, 1), 1)
    election.on_notification(2, note(FOLLOWING, 3, 11, 5, 2), 2)
    effects = election.on_notification(3, note(LEADING, 3, 11, 5, 2), 3)
    assert not any(isinstance(e, Decided) for e in effects)


def test_everyone_else_naming_me_leader_at_my_round_makes_me_lead() -> None:
    election = Election(3, ensemble(5))
    election.start(0, 0, now_ms=0)
    # My own LOOKING vote at this round is the same vote, so it counts: {3, 1} is not 3 of 5 yet.
    assert election.on_notification(1, note(FOLLOWING, 3, 0, 1, 0), 1) == []
    [decided] = [
        e
        for e in election.on_notification(2, note(FOLLOWING, 3, 0, 1, 0), 2)
        if isinstance(e, Decided)
    ]
    assert decided.state == PeerState.LEADING


# --- out of election: answering latecomers -----------------------------------------------------


def test_settled_server_answers_looking_peers_with_its_vote() -> None:
    wire, _ = running_ensemble()
    follower = wire.elections[1]
    assert follower.state == PeerState.FOLLOWING
    cfg = follower.verifier.config_bytes()
    effects = follower.on_notification(4, note(LOOKING, 4, 99, 1, 1), now_ms=500)
    assert effects == [Send(4, Notification(FOLLOWING, 3, make_zxid(1, 11), 1, 1, 2, cfg))]
    follower.update_current_epoch(2)
    effects = follower.on_notification(4, note(LOOKING, 4, 99, 8, 1), now_ms=600)
    assert effects == [Send(4, Notification(FOLLOWING, 3, make_zxid(1, 11), 1, 2, 2, cfg))]
    assert follower.on_notification(4, note(FOLLOWING, 3, 1, 1, 1), now_ms=700) == []
    assert follower.tick(10_000) == [] and follower.next_deadline_ms() is None


def test_after_its_role_ends_a_server_keeps_notifications_for_its_next_round() -> None:
    # 3 led 1 and 2 and died; 2 starts its next round before 1 has left its role.
    wire = Wire(ensemble(3))
    for sid in (1, 2, 3):
        wire.start(sid, 1, make_zxid(1, 10 + (sid == 3)))
    wire.flush()
    wire.advance(200)
    follower = wire.elections[1]
    assert follower.state == PeerState.FOLLOWING
    follower.leave_role()
    assert follower.on_notification(2, note(LOOKING, 2, make_zxid(1, 11), 2, 1), now_ms=500) == []
    follower.reachable = frozenset({2})
    effects = follower.start(1, make_zxid(1, 11), now_ms=501)
    assert [e.notification.leader for e in effects if isinstance(e, Broadcast)] == [1, 2]
    assert effects[-1] == Decided(2, PeerState.FOLLOWING, Vote(2, make_zxid(1, 11), 2, 1), 0)



def test_unknown_state_from_a_voter_is_ignored() -> None:
    election = Election(1, ensemble(3))
    election.start(0, 0, 0)
    assert election.on_notification(2, note(7, 2, 5, 0, 0), 1) == []
    assert election.next_deadline_ms() == 200, "not even counted as a notification"


# --- observers ---------------------------------------------------------------------------------


def test_observer_proposes_nobody_and_speaks_only_to_voters() -> None:
    qv = ensemble(3, observers=2)
    observer = Election(4, qv)
    assert not observer.participant
    effects = observer.start(7, make_zxid(7, 7), now_ms=0)
    assert effects == [
        Broadcast(
            (1, 2, 3), Notification(LOOKING, LONG_MIN, LONG_MIN, 1, LONG_MIN, 2, qv.config_bytes())
        )
    ]


def test_voters_answer_observers_without_counting_them() -> None:
    qv = ensemble(3, observers=1)
    voter = Election(1, qv)
    voter.start(0, 5, now_ms=0)
    effects = voter.on_notification(4, note(LOOKING, 4, 1 << 40, 1, 9), now_ms=1)
    # The answer is QuorumPeer's current vote (seeded from the server's own state), not the tally.
    assert effects == [Send(4, Notification(LOOKING, 1, 5, 1, 0, 2, qv.config_bytes()))]
    assert voter.proposal.leader == 1


def test_votes_for_an_observer_are_ignored() -> None:
    voter = Election(1, ensemble(3, observers=1))
    voter.start(0, 5, now_ms=0)
    voter.on_notification(2, note(LOOKING, 4, 1 << 40, 1, 9), now_ms=1)
    assert voter.proposal.leader == 1


def test_observers_cannot_make_a_quorum() -> None:
    wire = Wire(ensemble(3, observers=2), sids=[1, 4, 5])
    for sid in (1, 4, 5):
        wire.start(sid, 0, 0)
    wire.flush()
    for _ in range(20):
        wire.advance(5000)
    assert wire.decided == {}


def test_observers_follow_the_elected_leader() -> None:
    wire = Wire(ensemble(3, observers=2))
    for sid in (4, 1, 2, 5, 3):
        wire.start(sid, 0, make_zxid(0, sid))
    wire.flush()
    for _ in range(5):
        wire.advance(200)
    assert wire.leaders() == {5 - 2}
    assert {sid: d.state for sid, d in wire.decided.items()} == {
        1: PeerState.FOLLOWING,
        2: PeerState.FOLLOWING,
        3: PeerState.LEADING,
        4: PeerState.OBSERVING,
        5: PeerState.OBSERVING,
    }
