"""Majority quorums over the voting members, and the config text peers exchange.

Theory of operation
-------------------
Mirrors ZooKeeper's `flexible/QuorumMaj`. Members are the `server.N` lines of the
configuration; those whose role is `participant` vote, `observer`s do not. A set of acks is a
quorum when more than `half = len(voters) // 2` distinct voters are in it; acks from observers
or strangers never count (ZooKeeper's SyncedLearnerTracker filters them before counting). Every
member weighs 1, observers included: it is FastLeaderElection's validVoter check, not the
weight, that keeps observers from winning under majority quorums.

`to_config_text` is `QuorumMaj.toString`, the text FastLeaderElection appends to every
notification and NEWLEADER carries: one `server.<sid>=<spec>\\n` per member and then
`version=<hex>` with no newline. The spec is the member's `QuorumServer.toString`
(`host:quorumPort:electionPort:role[;clientHost:clientPort]`), kept verbatim here. The members
come out in the order Java's `HashMap<Long, ...>` iterates them: by hash bucket, i.e. by sid
modulo the table capacity (16 up to 12 members, doubling beyond), and by insertion order within
a bucket. Java inserts in the order of its Properties table, which depends on every key of the
zoo.cfg; zkpy inserts in ascending sid order, so only the order of sids that share a bucket
(e.g. 1 and 17 in an ensemble of at most 12) can differ from ZooKeeper's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from zkpy.zab.zxid import hex_long

_HASHMAP_INITIAL_CAPACITY = 16


class ConfigTextError(ValueError):
    """Config text that QuorumMaj(Properties) would refuse."""


@dataclass(frozen=True, slots=True)
class QuorumMember:
    sid: int
    spec: str
    """The `server.<sid>` value as QuorumServer.toString prints it."""
    voting: bool


class QuorumMaj:
    """An immutable majority quorum verifier."""

    __slots__ = ("_members", "_observers", "_text", "_voters", "half", "version")

    def __init__(self, members: Iterable[QuorumMember], version: int = 0) -> None:
        by_sid: dict[int, QuorumMember] = {}
        for member in sorted(members, key=lambda m: m.sid):
            if member.sid in by_sid:
                raise ValueError(f"duplicate server.{member.sid}")
            by_sid[member.sid] = member
        self._members = {sid: by_sid[sid] for sid in java_hashmap_order(by_sid)}
        self._voters = frozenset(sid for sid, m in by_sid.items() if m.voting)
        self._observers = frozenset(sid for sid, m in by_sid.items() if not m.voting)
        self.version = version
        self.half = len(self._voters) // 2
        self._text = self._render()

    @classmethod
    def from_specs(cls, specs: Mapping[int, str], version: int = 0) -> QuorumMaj:
        """Members from `{sid: spec}`; the role is read from each spec as QuorumServer does."""
        return cls(
            (QuorumMember(sid, spec, spec_is_voting(spec)) for sid, spec in specs.items()), version
        )

    @classmethod
    def from_config_text(cls, text: str) -> QuorumMaj:
        """Parse `server.N=...` / `version=<hex>` lines, e.g. the config of a notification."""
        specs: dict[int, str] = {}
        version = 0
        for raw_line in text.splitlines():
            line = raw_line.lstrip(" \t\f")
            if not line or line[0] in "#!":
                continue
            key, sep, value = line.partition("=")
            if not sep:
                continue
            key = key.rstrip(" \t\f")
            value = value.lstrip(" \t\f")
            if key.startswith("server."):
                try:
                    sid = int(key[len("server.") :])
                except ValueError:
                    raise ConfigTextError(f"bad server id in {key!r}") from None
                specs[sid] = value
            elif key == "version":
                try:
                    version = int(value, 16)
                except ValueError:
                    raise ConfigTextError(f"bad version {value!r}") from None
        return cls.from_specs(specs, version)

    @property
    def members(self) -> Mapping[int, QuorumMember]:
        return self._members

    def specs(self) -> dict[int, str]:
        """`{sid: spec}`, what `from_specs` takes."""
        return {sid: member.spec for sid, member in self._members.items()}

    @property
    def voting_members(self) -> frozenset[int]:
        return self._voters

    @property
    def observing_members(self) -> frozenset[int]:
        return self._observers

    def is_voter(self, sid: int) -> bool:
        return sid in self._voters

    def with_version(self, version: int) -> QuorumMaj:
        return QuorumMaj(self._members.values(), version)

    def quorum_address(self, sid: int) -> str | None:
        """`host:quorumPort` of a member (its spec up to the election port), None if absent."""
        member = self._members.get(sid)
        return member.spec.split(";", 1)[0].rsplit(":", 2)[0] if member is not None else None

    def weight(self, sid: int) -> int:
        """QuorumMaj.getWeight: 1 for every id (hierarchical quorums are not supported)."""
        return 1

    def contains_quorum(self, acks: Iterable[int]) -> bool:
        return len(self._voters.intersection(acks)) > self.half

    def to_config_text(self) -> str:
        return self._text

    def config_bytes(self) -> bytes:
        return self._text.encode("utf-8")

    def _render(self) -> str:
        lines = [f"server.{m.sid}={m.spec}\n" for m in self._members.values()]
        return "".join(lines) + "version=" + hex_long(self.version)

    def __eq__(self, other: object) -> bool:
        # QuorumMaj.equals: same version, or same members.
        if not isinstance(other, QuorumMaj):
            return NotImplemented
        return self.version == other.version or dict(self._members) == dict(other._members)

    def __hash__(self) -> int:
        return hash(self.version)

    def __repr__(self) -> str:
        return (
            f"QuorumMaj(voters={sorted(self._voters)}, observers={sorted(self._observers)},"
            f" version=0x{hex_long(self.version)})"
        )


def major_change(before: QuorumMaj, after: QuorumMaj, my_id: int, leader_sid: int,
                 designated_leader: int | None, *, observing: bool) -> str | None:
    """Why a learner must leave its leader when `after` replaces `before` (None: it stays), as
    QuorumPeer.processReconfig decides: its own role changed, or the leader did -- the one the
    old leader designated, or without one, a leader that no longer votes at the same address."""
    if after.is_voter(my_id) and observing:
        return "this observer became a participant"
    if my_id in after.observing_members and not observing:
        return "this participant became an observer"
    if designated_leader is not None:
        if designated_leader != leader_sid:
            return f"server {designated_leader} is the designated leader"
        return None
    if not (before.is_voter(leader_sid) and after.is_voter(leader_sid)) or (
            before.quorum_address(leader_sid) != after.quorum_address(leader_sid)):
        return f"leader {leader_sid} no longer votes at the same address"
    return None


def spec_is_voting(spec: str) -> bool:
    """Whether a `server.N` value names a participant (the default) rather than an observer."""
    server_part = spec.split(";", 1)[0]
    first_address = server_part.split("|", 1)[0]
    if first_address.startswith("["):
        close = first_address.find("]")
        rest = first_address[close + 1 :] if close >= 0 else ""
        parts = rest.split(":")[1:]
        role_index = 2
    else:
        parts = first_address.split(":")
        role_index = 3
    if len(parts) > role_index:
        return parts[role_index].strip().lower() != "observer"
    return True


def java_hashmap_order(sids: Iterable[int]) -> list[int]:
    """The iteration order of a java.util.HashMap<Long, V> filled with `sids` in that order."""
    ordered = list(sids)
    capacity = _HASHMAP_INITIAL_CAPACITY
    while len(ordered) > capacity * 3 // 4:
        capacity *= 2

    def bucket(sid: int) -> int:
        unsigned = sid & ((1 << 64) - 1)
        h = (unsigned ^ (unsigned >> 32)) & 0xFFFFFFFF  # Long.hashCode
        return (h ^ (h >> 16)) & (capacity - 1)  # HashMap.hash, then the table index

    return sorted(ordered, key=bucket)
