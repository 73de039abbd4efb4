"""next_config: what a reconfig request asks for, and every refusal PrepRequestProcessor makes."""

from __future__ import annotations

import pytest

from zkpy.jute import records as r
from zkpy.jute.constants import Err
from zkpy.server.reconfig import ReconfigRejected, next_config
from zkpy.zab.quorum import QuorumMaj

SPECS = {sid: f"127.0.0.1:{2000 + sid}:{3000 + sid}:participant;127.0.0.1:{4000 + sid}" for sid in (1, 2, 3)}
CURRENT = QuorumMaj.from_specs(SPECS, version=0x100000000)
ZXID = 0x100000005


def plan(joining: str | None = None, leaving: str | None = None, members: str | None = None,
         config_id: int = -1, *, last_seen: QuorumMaj = CURRENT, synced: tuple[int, ...] = (1, 2, 3),
         standalone_enabled: bool = True) -> QuorumMaj:
    request = r.ReconfigRequest(joining, leaving, members, config_id)
    return next_config(request, current=CURRENT, last_seen=last_seen, zxid=ZXID, synced_voters=synced,
                       standalone_enabled=standalone_enabled)


def refused(**kwargs: object) -> int:
    with pytest.raises(ReconfigRejected) as caught:
        plan(**kwargs)  # type: ignore[arg-type]
    return caught.value.code


def test_joining_an_observer_keeps_the_members_and_takes_the_txn_zxid_as_version() -> None:
    joined = plan(joining="server.100=0.0.0.0:1234:2345:observer;3456")
    assert joined.version == ZXID
    assert joined.voting_members == {1, 2, 3} and joined.observing_members == {100}
    assert "server.100=0.0.0.0:1234:2345:observer;0.0.0.0:3456\n" in joined.to_config_text()
    assert joined.to_config_text().endswith("version=100000005")


def test_leaving_and_joining_together_and_replacing_a_member() -> None:
    changed = plan(joining=" server.3=127.0.0.1:2003:3003:participant;127.0.0.1:4999 , ", leaving="2,")
    assert changed.voting_members == {1, 3} and changed.observing_members == frozenset()
    assert changed.members[3].spec.endswith(";127.0.0.1:4999")


def test_non_incremental_new_members_separated_by_commas() -> None:
    members = ",".join(f"server.{sid}={SPECS[sid]}" for sid in (1, 2))
    assert plan(members=members).voting_members == {1, 2}


@pytest.mark.parametrize("kwargs, code", [
    ({"joining": "some thing"}, Err.BADARGUMENTS),
    ({"joining": "server.9=127.0.0.1:1:2:observer"}, Err.BADARGUMENTS),  # no client port
    ({"joining": "server.9=127.0.0.1:2001:9:observer;9"}, Err.BADARGUMENTS),  # server 1's quorum address
    ({"joining": "server.9=bad"}, Err.BADARGUMENTS),
    ({"leaving": "x"}, Err.MARSHALLINGERROR),
    ({"leaving": "2,3"}, Err.BADARGUMENTS),  # one voter left
    ({"members": "version=5"}, Err.BADARGUMENTS),
    ({"config_id": 7}, Err.BADVERSION),
    ({"leaving": "1", "synced": (1,)}, Err.NEWCONFIGNOQUORUM),
    ({"leaving": "1", "last_seen": CURRENT.with_version(ZXID - 1)}, Err.RECONFIGINPROGRESS),
])
def test_refusals(kwargs: dict[str, object], code: int) -> None:
    assert refused(**kwargs) == code


def test_one_voter_is_enough_without_standalone_mode() -> None:
    assert plan(leaving="2,3", synced=(1,), standalone_enabled=False).voting_members == {1}


def test_the_current_version_is_the_config_id_to_name() -> None:
    assert plan(leaving="3", config_id=CURRENT.version).voting_members == {1, 2}
