"""java.util.Random, bit for bit: ZooKeeper derives session passwords from it.

A client that reconnects to any server of an ensemble has its password checked by recomputing
`new Random(sessionId ^ 0xB3415C00L).nextBytes(new byte[16])`, so a zkpy server that shares
sessions with Java servers must produce the very same bytes (ZooKeeperServer.generatePasswd).
"""

from __future__ import annotations

_MULTIPLIER = 0x5DEECE66D
_ADDEND = 0xB
_MASK = (1 << 48) - 1


class JavaRandom:
    __slots__ = ("_seed",)

    def __init__(self, seed: int) -> None:
        self._seed = (seed ^ _MULTIPLIER) & _MASK

    def _next(self, bits: int) -> int:
        self._seed = (self._seed * _MULTIPLIER + _ADDEND) & _MASK
        value = self._seed >> (48 - bits)
        if value & (1 << (bits - 1)):
            value -= 1 << bits
        return value

    def next_int(self) -> int:
        return self._next(32)

    def next_bytes(self, count: int) -> bytes:
        out = bytearray()
        while len(out) < count:
            rnd = self.next_int()
            for _ in range(min(count - len(out), 4)):
                out.append(rnd & 0xFF)
                rnd >>= 8
        return bytes(out)


SUPER_SECRET = 0xB3415C00


def session_password(session_id: int) -> bytes:
    """ZooKeeperServer.generatePasswd(sessionId)."""
    return JavaRandom(session_id ^ SUPER_SECRET).next_bytes(16)
