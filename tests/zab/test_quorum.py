from __future__ import annotations

import pytest

from zkpy.zab.quorum import QuorumMaj, QuorumMember, java_hashmap_order, spec_is_voting


def ensemble(voters: int, observers: int = 0) -> QuorumMaj:
    specs = {
        sid: f"127.0.0.1:{2000 + sid}:{3000 + sid}:participant" for sid in range(1, voters + 1)
    }
    for sid in range(voters + 1, voters + observers + 1):
        specs[sid] = f"127.0.0.1:{2000 + sid}:{3000 + sid}:observer"
    return QuorumMaj.from_specs(specs)


@pytest.mark.parametrize(
    ("voters", "half", "smallest_quorum"), [(1, 0, 1), (2, 1, 2), (3, 1, 2), (4, 2, 3), (5, 2, 3)]
)
def test_majority(voters: int, half: int, smallest_quorum: int) -> None:
    qv = ensemble(voters, observers=2)
    assert qv.half == half
    assert qv.contains_quorum(range(1, smallest_quorum + 1))
    assert not qv.contains_quorum(range(1, smallest_quorum))


def test_observers_and_strangers_never_count() -> None:
    qv = ensemble(3, observers=2)
    assert qv.voting_members == {1, 2, 3}
    assert qv.observing_members == {4, 5}
    assert not qv.contains_quorum({1, 4, 5, 99})
    assert qv.contains_quorum({1, 2, 4})
    assert qv.weight(4) == 1  # QuorumMaj weighs everybody 1; validVoter keeps observers out


def test_config_text_is_quorum_maj_to_string() -> None:
    qv = QuorumMaj.from_specs(
        {
            3: "127.0.0.1:2890:3890:participant;127.0.0.1:2182",
            1: "127.0.0.1:2888:3888:participant",
            2: "127.0.0.1:2889:3889:observer;0.0.0.0:2181",
        },
        version=0x100000000,
    )
    assert qv.to_config_text() == (
        "server.1=127.0.0.1:2888:3888:participant\n"
        "server.2=127.0.0.1:2889:3889:observer;0.0.0.0:2181\n"
        "server.3=127.0.0.1:2890:3890:participant;127.0.0.1:2182\n"
        "version=100000000"
    )
    assert qv.config_bytes() == qv.to_config_text().encode()


def test_config_text_round_trip() -> None:
    qv = ensemble(3, observers=1)
    again = QuorumMaj.from_config_text(qv.to_config_text())
    assert again.to_config_text() == qv.to_config_text()
    assert again.voting_members == {1, 2, 3}
    assert again == qv


def test_members_in_java_hashmap_order() -> None:
    # Up to 12 members the table has 16 buckets: 16 comes first, 17 shares a bucket with 1.
    assert java_hashmap_order([1, 2, 16, 17, 18]) == [16, 1, 17, 2, 18]
    # Beyond 12 members there are 32 buckets, so sids 1..20 come out ascending.
    assert java_hashmap_order(range(20, 0, -1)) == list(range(1, 21))
    assert java_hashmap_order(range(1, 14)) == list(range(1, 14))
    assert java_hashmap_order([40, 8]) == [40, 8]  # same bucket: insertion order


@pytest.mark.parametrize(
    ("spec", "voting"),
    [
        ("h:1:2", True),
        ("h:1:2:participant", True),
        ("h:1:2:observer", False),
        ("h:1:2: OBSERVER ;3", False),
        ("[::1]:1:2:observer;[::1]:3", False),
        ("[::1]:1:2", True),
    ],
)
def test_role_from_spec(spec: str, voting: bool) -> None:
    assert spec_is_voting(spec) is voting


def test_duplicate_member_is_refused() -> None:
    with pytest.raises(ValueError):
        QuorumMaj([QuorumMember(1, "a:1:2", True), QuorumMember(1, "b:1:2", True)])
