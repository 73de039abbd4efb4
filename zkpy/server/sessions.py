"""Session ids, timeouts and tick-based expiry (ZooKeeper's SessionTrackerImpl + ExpiryQueue).

Theory of operation: a session expires at a tick boundary. Touching a session (any request or
ping) moves its deadline to the first multiple of tickTime after now + timeout, so sessions
sharing a deadline sit in one bucket and `expire(now_ms)` collects whole buckets. Time comes in
as an argument; nothing here reads a clock.

Ids follow SessionTrackerImpl.initializeNextSessionId: `((now_ms << 24) >>> 8) | (sid << 56)`,
then counted up, skipping 0x8000000000000000 (it marks a container's ephemeralOwner).
Passwords are ZooKeeper's: see zkpy.server.java_random.
"""

from __future__ import annotations

from dataclasses import dataclass

from zkpy.server.java_random import session_password

_MASK64 = (1 << 64) - 1
_CONTAINER_OWNER = -(1 << 63)


def to_signed64(value: int) -> int:
    value &= _MASK64
    return value - (1 << 64) if value >> 63 else value


def initial_session_id(server_id: int, now_ms: int) -> int:
    value = (((now_ms << 24) & _MASK64) >> 8) | ((server_id & 0xFF) << 56)
    value = to_signed64(value)
    if value == _CONTAINER_OWNER:
        value += 1
    return value


@dataclass(slots=True)
class SessionState:
    session_id: int
    timeout_ms: int
    deadline_ms: int
    closing: bool = False


class SessionTracker:
    def __init__(self, tick_ms: int, server_id: int, now_ms: int) -> None:
        self.tick_ms = tick_ms
        self._next_id = initial_session_id(server_id, now_ms)
        self.sessions: dict[int, SessionState] = {}
        self._buckets: dict[int, set[int]] = {}

    def new_session_id(self) -> int:
        session_id = self._next_id
        self._next_id = to_signed64(self._next_id + 1)
        if self._next_id == _CONTAINER_OWNER:
            self._next_id += 1
        return session_id

    @staticmethod
    def password(session_id: int) -> bytes:
        return session_password(session_id)

    def check_password(self, session_id: int, password: bytes | None) -> bool:
        return session_id != 0 and password == session_password(session_id)

    def track(self, session_id: int, timeout_ms: int, now_ms: int) -> None:
        """Adds a session (or refreshes its timeout) and touches it."""
        state = self.sessions.get(session_id)
        if state is None:
            state = SessionState(session_id, timeout_ms, 0)
            self.sessions[session_id] = state
        state.timeout_ms = timeout_ms
        self._move(state, now_ms)

    def touch(self, session_id: int, now_ms: int) -> bool:
        """False when the session is unknown or already closing."""
        state = self.sessions.get(session_id)
        if state is None or state.closing:
            return False
        self._move(state, now_ms)
        return True

    def _move(self, state: SessionState, now_ms: int) -> None:
        """Into the bucket of the first tick boundary after now + timeout (ExpiryQueue.update);
        every request comes through here, so the rounding is written out in place."""
        tick_ms = self.tick_ms
        deadline = ((now_ms + state.timeout_ms) // tick_ms + 1) * tick_ms
        if deadline == state.deadline_ms:
            return
        bucket = self._buckets.get(state.deadline_ms)
        if bucket is not None:
            bucket.discard(state.session_id)
            if not bucket:
                del self._buckets[state.deadline_ms]
        state.deadline_ms = deadline
        self._buckets.setdefault(deadline, set()).add(state.session_id)

    def is_live(self, session_id: int) -> bool:
        state = self.sessions.get(session_id)
        return state is not None and not state.closing

    def set_closing(self, session_id: int) -> None:
        state = self.sessions.get(session_id)
        if state is not None:
            state.closing = True

    def remove(self, session_id: int) -> None:
        state = self.sessions.pop(session_id, None)
        if state is None:
            return
        bucket = self._buckets.get(state.deadline_ms)
        if bucket is not None:
            bucket.discard(session_id)
            if not bucket:
                del self._buckets[state.deadline_ms]

    def expire(self, now_ms: int) -> list[int]:
        """Sessions whose deadline has passed; they are marked closing, not removed."""
        expired: list[int] = []
        for deadline in sorted(d for d in self._buckets if d <= now_ms):
            for session_id in sorted(self._buckets.pop(deadline)):
                state = self.sessions[session_id]
                state.deadline_ms = 0
                state.closing = True
                expired.append(session_id)
        return expired

    def next_deadline_ms(self) -> int | None:
        return min(self._buckets) if self._buckets else None
