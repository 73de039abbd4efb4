"""CommittedLog and plan_sync: which of DIFF, TRUNC or SNAP a connecting learner gets."""

from __future__ import annotations

from zkpy.zab.committed_log import CommittedLog, SyncPlan, plan_sync
from zkpy.zab.packets import PacketReader, PacketType, QuorumPacket, packet
from zkpy.zab.zxid import make_zxid as z


def txn_bytes(zxid: int) -> bytes:
    return f"txn {zxid:x}".encode()


def log_of(*zxids: int, capacity: int = 500) -> CommittedLog:
    log = CommittedLog(capacity)
    for zxid in zxids:
        log.add(zxid, txn_bytes(zxid))
    return log


def decoded(plan: SyncPlan) -> list[tuple[str, int]]:
    packets = PacketReader().feed(b"".join(plan.packets))
    return [(PacketType.name_of(qp.type), qp.zxid) for qp in packets]


def diff_then(last: int, *zxids: int) -> list[tuple[str, int]]:
    out = [("DIFF", last)]
    for zxid in zxids:
        out += [("PROPOSAL", zxid), ("COMMIT", zxid)]
    return out


def test_the_log_keeps_the_newest_capacity_entries() -> None:
    log = log_of(*(z(1, i) for i in range(1, 8)), capacity=3)
    assert len(log) == 3
    assert (log.min_zxid, log.max_zxid) == (z(1, 5), z(1, 7))
    assert list(log.entries()) == [(zx, packet(PacketType.PROPOSAL, zx, txn_bytes(zx)))
                                   for zx in (z(1, 5), z(1, 6), z(1, 7))]
    log.clear()
    assert len(log) == 0 and log.min_zxid is None and log.max_zxid is None


def test_the_same_zxid_gets_an_empty_diff() -> None:
    log = log_of(z(1, 1), z(1, 2), z(1, 3))
    plan = plan_sync(z(1, 3), log, z(1, 3))
    assert (plan.snapshot, plan.last_zxid) == (False, z(1, 3))
    assert decoded(plan) == [("DIFF", z(1, 3))]


def test_the_same_zxid_with_an_empty_log_gets_an_empty_diff() -> None:
    plan = plan_sync(0, CommittedLog(), 0)
    assert decoded(plan) == [("DIFF", 0)] and not plan.snapshot


def test_a_learner_ahead_of_the_leader_is_truncated() -> None:
    log = log_of(z(1, 1), z(1, 2), z(1, 3))
    plan = plan_sync(z(1, 5), log, z(1, 3))
    assert (plan.snapshot, plan.last_zxid) == (False, z(1, 3))
    assert decoded(plan) == [("TRUNC", z(1, 3))]


def test_a_learner_ahead_of_a_leader_with_an_empty_log_is_truncated_to_its_zxid() -> None:
    plan = plan_sync(z(2, 4), CommittedLog(), z(2, 1))
    assert decoded(plan) == [("TRUNC", z(2, 1))]


def test_a_learner_in_range_gets_a_diff_with_proposal_commit_pairs() -> None:
    log = log_of(z(1, 1), z(1, 2), z(1, 3), z(2, 1), z(2, 2))
    plan = plan_sync(z(1, 2), log, z(2, 2))
    assert (plan.snapshot, plan.last_zxid) == (False, z(2, 2))
    assert decoded(plan) == diff_then(z(2, 2), z(1, 3), z(2, 1), z(2, 2))
    # The proposals are the log's bytes, ready to resend.
    packets = PacketReader().feed(b"".join(plan.packets))
    assert packets[1] == QuorumPacket(PacketType.PROPOSAL, z(1, 3), f"txn {z(1, 3):x}".encode())


def test_a_learner_at_the_oldest_entry_gets_everything_after_it() -> None:
    log = log_of(z(1, 1), z(1, 2), z(1, 3))
    assert decoded(plan_sync(z(1, 1), log, z(1, 3))) == diff_then(z(1, 3), z(1, 2), z(1, 3))


def test_a_divergence_within_an_epoch_truncates_to_the_previous_zxid_then_sends_the_rest() -> None:
    # The learner logged 0x100000003 of an abandoned leader; the leader's history in that epoch
    # went on from 0x100000002 with other zxids.
    log = log_of(z(1, 1), z(1, 2), z(1, 4), z(1, 5))
    plan = plan_sync(z(1, 3), log, z(1, 5))
    assert (plan.snapshot, plan.last_zxid) == (False, z(1, 5))
    assert decoded(plan) == [("TRUNC", z(1, 2)), ("PROPOSAL", z(1, 4)), ("COMMIT", z(1, 4)),
                             ("PROPOSAL", z(1, 5)), ("COMMIT", z(1, 5))]


def test_a_divergence_across_epochs_gets_a_snapshot() -> None:
    # The learner's 0x100000003 never committed; the next entry the leader has is of epoch 2.
    log = log_of(z(1, 1), z(1, 2), z(2, 1), z(2, 2))
    plan = plan_sync(z(1, 3), log, z(2, 2))
    assert (plan.snapshot, plan.last_zxid, plan.packets) == (True, z(2, 2), [])


def test_a_learner_older_than_the_log_gets_a_snapshot() -> None:
    log = log_of(*(z(1, i) for i in range(1, 10)), capacity=4)
    plan = plan_sync(z(1, 2), log, z(1, 9))
    assert (plan.snapshot, plan.last_zxid) == (True, z(1, 9))


def test_a_learner_with_an_empty_database_gets_a_snapshot_from_a_leader_with_history() -> None:
    assert plan_sync(0, log_of(z(1, 1), z(1, 2)), z(1, 2)).snapshot


def test_a_learner_behind_a_leader_with_an_empty_log_gets_a_snapshot() -> None:
    plan = plan_sync(z(1, 2), CommittedLog(), z(1, 7))
    assert (plan.snapshot, plan.last_zxid) == (True, z(1, 7))


def test_a_new_epoch_zxid_inside_the_range_gets_a_diff_from_the_next_entry() -> None:
    log = log_of(z(1, 1), z(1, 2), z(2, 1), z(2, 2), z(3, 1))
    plan = plan_sync(z(2, 0), log, z(3, 1))
    assert (plan.snapshot, plan.last_zxid) == (False, z(3, 1))
    assert decoded(plan) == diff_then(z(3, 1), z(2, 1), z(2, 2), z(3, 1))


def test_a_new_epoch_zxid_beyond_the_log_is_not_truncated() -> None:
    # A learner that synced to epoch 3 and logged nothing since: a DIFF, never a TRUNC.
    log = log_of(z(1, 1), z(2, 1), z(2, 2))
    plan = plan_sync(z(3, 0), log, z(2, 2))
    assert not plan.snapshot
    assert decoded(plan) == [("DIFF", z(2, 2))]
    assert plan.last_zxid == z(3, 0)


def test_a_new_epoch_zxid_older_than_the_log_gets_a_snapshot() -> None:
    log = log_of(z(2, 1), z(2, 2))
    assert plan_sync(z(1, 0), log, z(2, 2)).snapshot
