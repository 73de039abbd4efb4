"""What the tests know about zkpy's record declarations: the list of records and their Jute types.

Everything here is derived from each record's `FIELDS`, so a record added to zkpy.jute.records is
covered by the golden, round-trip and fuzz tests without touching them.
"""

from __future__ import annotations

from typing import Any

from zkpy.jute import records
from zkpy.jute.codec import BOOL, BUFFER, INT, LONG, USTRING, Vector

PRIMITIVE_SIGNATURES = {INT: "i", LONG: "l", BOOL: "z", BUFFER: "B", USTRING: "s"}


def is_record(kind: Any) -> bool:
    return isinstance(kind, type) and hasattr(kind, "FIELDS")


def all_records() -> list[type]:
    """Every record class zkpy.jute.records declares, in declaration order."""
    return [obj for obj in vars(records).values() if is_record(obj)]


def record_by_name() -> dict[str, type]:
    return {cls.__name__: cls for cls in all_records()}


def signature(kind: Any) -> str:
    """The type signature Jute's Java generator emits for `kind` (a record's `signature()`)."""
    if isinstance(kind, Vector):
        return f"[{signature(kind.item)}]"
    if is_record(kind):
        return f"L{kind.__name__}({''.join(signature(k) for _, k in kind.FIELDS)})"
    return PRIMITIVE_SIGNATURES[kind]
