"""Jute record codec, compiled at import.

Theory of operation: Jute (ZooKeeper's serialization, zookeeper-jute's BinaryInputArchive and
BinaryOutputArchive) is big-endian: int 4 bytes, long 8, boolean 1, buffer/ustring as an int
length (-1 = null) then the bytes, vector as an int count (-1 = null) then the items, and a record
as its fields in order with no framing of its own.

Each record is declared once with `record(name, fields)`. The declaration is turned into a slotted
class whose `decode(buf, offset) -> (record, offset)` and `encode(out: bytearray)` are generated
Python source specialised for that field list: runs of fixed-size fields are read and written
with one precompiled `struct.Struct`, so a request costs a handful of calls rather than one
interpretive step per field. Decoders raise `DecodeError` (or `struct.error`, both listed in
`DECODE_ERRORS`) on truncated or malformed input; callers close the offending connection.

Strings are coded as Jute's Java code codes them: decoding like `new String(bytes, UTF_8)`
(malformed UTF-8 becomes U+FFFD, which path validation later rejects just as ZooKeeper does) and
encoding UTF-16 unit by unit (CESU-8 for characters above U+FFFF).
"""

from __future__ import annotations

import codecs
import struct
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

INT = "int"
LONG = "long"
BOOL = "bool"
BUFFER = "buffer"
USTRING = "ustring"

_FIXED_FORMATS = {INT: "i", LONG: "q", BOOL: "?"}


class DecodeError(ValueError):
    """Input that is not a well-formed Jute record."""


DECODE_ERRORS = (DecodeError, struct.error)

INT_STRUCT = struct.Struct(">i")
NULL_LENGTH = INT_STRUCT.pack(-1)


@dataclass(frozen=True, slots=True)
class Vector:
    """`vector<item>` where item is a primitive tag or a record class."""

    item: Any


class Record(Protocol):
    FIELDS: ClassVar[tuple[tuple[str, Any], ...]]

    def encode(self, out: bytearray) -> None: ...


def vector(item: Any) -> Vector:
    return Vector(item)


def _java_replace(error: UnicodeError) -> tuple[str, int]:
    """Java's UTF-8 decoder replaces an encoded surrogate (ED A0..BF [80..BF]) with one
    U+FFFD where Python's 'replace' would give one per byte; everything else is the same."""
    assert isinstance(error, UnicodeDecodeError)
    data, start = error.object, error.start
    if data[start] == 0xED and start + 1 < len(data) and 0xA0 <= data[start + 1] <= 0xBF:
        end = start + 2
        if end < len(data) and 0x80 <= data[end] <= 0xBF:
            end += 1
        return "\ufffd", end
    return "\ufffd", error.end


codecs.register_error("zkpy-java-utf8", _java_replace)


def _java_utf8(value: str) -> bytes:
    """Jute's writeString encodes UTF-16 units one by one, so a character above U+FFFF is
    written as two 3-byte surrogate sequences (CESU-8), not as one 4-byte sequence."""
    data = value.encode("utf-8", "surrogatepass")
    if data.isascii() or not any(b >= 0xF0 for b in data):
        return data
    units = value.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "surrogatepass")
    pairs = "".join(
        chr(0xD800 + ((ord(c) - 0x10000) >> 10)) + chr(0xDC00 + ((ord(c) - 0x10000) & 0x3FF))
        if ord(c) > 0xFFFF else c
        for c in units
    )
    return pairs.encode("utf-8", "surrogatepass")


def read_ustring(buf: bytes, off: int) -> tuple[str | None, int]:
    (n,) = INT_STRUCT.unpack_from(buf, off)
    off += 4
    if n < 0:
        if n != -1:
            raise DecodeError(f"negative string length {n}")
        return None, off
    end = off + n
    if end > len(buf):
        raise DecodeError(f"string length {n} exceeds the {len(buf) - off} bytes left")
    return buf[off:end].decode("utf-8", "zkpy-java-utf8"), end


def _read_count(buf: bytes, off: int, min_item_size: int) -> tuple[int, int]:
    (n,) = INT_STRUCT.unpack_from(buf, off)
    off += 4
    if n < -1:
        # BinaryInputArchive's Index.done() is `nelems <= 0`: Java reads such a count as empty.
        return 0, off
    if n > 0 and n * min_item_size > len(buf) - off:
        raise DecodeError(f"vector count {n} exceeds the bytes left")
    return n, off


def _min_size(kind: Any) -> int:
    if kind in _FIXED_FORMATS:
        return struct.calcsize(">" + _FIXED_FORMATS[kind])
    if kind in (BUFFER, USTRING) or isinstance(kind, Vector):
        return 4
    return sum(_min_size(k) for _, k in kind.FIELDS) or 1


class _Compiler:
    """Generates the decode/encode source of one record class.

    Everything is written out inline, down through nested records, vectors, strings and
    buffers: a Python call costs about as much as the work of a short field, and a CreateTxn
    would otherwise make a dozen of them (ACL, Id, two strings per entry)."""

    def __init__(self, fields: tuple[tuple[str, Any], ...]):
        self.fields = fields
        self.namespace: dict[str, Any] = {
            "_read_count": _read_count,
            "_java_utf8": _java_utf8,
            "DecodeError": DecodeError,
            "INT_STRUCT": INT_STRUCT,
            "NULL_LENGTH": NULL_LENGTH,
        }
        self._counter = 0

    def _name(self, prefix: str, value: Any) -> str:
        """A namespace entry for a constant the generated code uses."""
        name = self._temp(prefix)
        self.namespace[name] = value
        return name

    def _temp(self, prefix: str) -> str:
        """A local name no other line of the generated function uses."""
        self._counter += 1
        return f"{prefix}{self._counter}"

    @staticmethod
    def _fixed_runs(fields: tuple[tuple[str, Any], ...]) -> list[list[tuple[str, Any]]]:
        """Groups the fields into runs: consecutive fixed-size fields share one run."""
        runs: list[list[tuple[str, Any]]] = []
        for name, kind in fields:
            fixed = kind in _FIXED_FORMATS
            if fixed and runs and runs[-1][0][1] in _FIXED_FORMATS:
                runs[-1].append((name, kind))
            else:
                runs.append([(name, kind)])
        return runs

    def _struct(self, kinds: list[Any]) -> tuple[str, int]:
        st = struct.Struct(">" + "".join(_FIXED_FORMATS[k] for k in kinds))
        return self._name("_S", st), st.size

    # ------------------------------------------------------------------ decode

    def decode_source(self, cls_name: str) -> str:
        lines = ["def decode(buf, off):"]
        targets = self._decode_fields(self.fields, "    ", lines)
        lines.append(f"    return {cls_name}({', '.join(targets)}), off")
        return "\n".join(lines)

    def _decode_fields(self, fields: tuple[tuple[str, Any], ...], indent: str, lines: list[str]) -> list[str]:
        """Appends the lines that read `fields`; returns the locals holding their values."""
        targets: list[str] = []
        for run in self._fixed_runs(fields):
            if run[0][1] in _FIXED_FORMATS:
                s, size = self._struct([k for _, k in run])
                names = [self._temp(f"f_{n}_") for n, _ in run]
                lines.append(f"{indent}{', '.join(names)}, = {s}.unpack_from(buf, off)")
                lines.append(f"{indent}off += {size}")
                targets.extend(names)
            else:
                name, kind = run[0]
                target = self._temp(f"f_{name}_")
                self._decode_one(target, kind, indent, lines)
                targets.append(target)
        return targets

    def _decode_one(self, target: str, kind: Any, indent: str, lines: list[str]) -> None:
        if kind in (BUFFER, USTRING):
            what = "buffer" if kind == BUFFER else "string"
            n, end = self._temp("n"), self._temp("end")
            value = f"buf[off:{end}]" if kind == BUFFER else f'buf[off:{end}].decode("utf-8", "zkpy-java-utf8")'
            lines += [
                f"{indent}{n}, = INT_STRUCT.unpack_from(buf, off)",
                f"{indent}off += 4",
                f"{indent}if {n} < 0:",
                f"{indent}    if {n} != -1:",
                f'{indent}        raise DecodeError(f"negative {what} length {{{n}}}")',
                f"{indent}    {target} = None",
                f"{indent}else:",
                f"{indent}    {end} = off + {n}",
                f"{indent}    if {end} > len(buf):",
                f'{indent}        raise DecodeError(f"{what} length {{{n}}} exceeds the {{len(buf) - off}} bytes left")',
                f"{indent}    {target} = {value}",
                f"{indent}    off = {end}",
            ]
        elif kind in _FIXED_FORMATS:
            s, size = self._struct([kind])
            lines += [f"{indent}{target}, = {s}.unpack_from(buf, off)", f"{indent}off += {size}"]
        elif isinstance(kind, Vector):
            count, item = self._temp("count"), self._temp("item")
            lines += [
                f"{indent}{count}, off = _read_count(buf, off, {_min_size(kind.item)})",
                f"{indent}if {count} < 0:",
                f"{indent}    {target} = None",
                f"{indent}else:",
                f"{indent}    {target} = []",
                f"{indent}    for _ in range({count}):",
            ]
            self._decode_one(item, kind.item, indent + "        ", lines)
            lines.append(f"{indent}        {target}.append({item})")
        else:
            parts = self._decode_fields(kind.FIELDS, indent, lines)
            lines.append(f"{indent}{target} = {self._name('_R', kind)}({', '.join(parts)})")

    # ------------------------------------------------------------------ encode

    def encode_source(self) -> str:
        lines = ["def encode(self, out):"]
        self._encode_fields("self", self.fields, "    ", lines)
        if len(lines) == 1:
            lines.append("    pass")
        return "\n".join(lines)

    def _encode_fields(self, owner: str, fields: tuple[tuple[str, Any], ...], indent: str,
                       lines: list[str]) -> None:
        for run in self._fixed_runs(fields):
            if run[0][1] in _FIXED_FORMATS:
                s, _ = self._struct([k for _, k in run])
                values = ", ".join(f"{owner}.{n}" for n, _ in run)
                lines.append(f"{indent}out += {s}.pack({values})")
            else:
                name, kind = run[0]
                self._encode_one(f"{owner}.{name}", kind, indent, lines)

    def _encode_one(self, value: str, kind: Any, indent: str, lines: list[str]) -> None:
        if kind in _FIXED_FORMATS:
            s, _ = self._struct([kind])
            lines.append(f"{indent}out += {s}.pack({value})")
            return
        v = value
        if not value.isidentifier():
            v = self._temp("v")
            lines.append(f"{indent}{v} = {value}")
        if kind in (BUFFER, USTRING) or isinstance(kind, Vector):
            lines += [f"{indent}if {v} is None:", f"{indent}    out += NULL_LENGTH", f"{indent}else:"]
            inner = indent + "    "
            if kind == BUFFER:
                lines += [f"{inner}out += INT_STRUCT.pack(len({v}))", f"{inner}out += {v}"]
            elif kind == USTRING:
                # isascii() is a flag check on a str: the common case skips _java_utf8's scan.
                lines += [
                    f"{inner}{v} = {v}.encode() if {v}.isascii() else _java_utf8({v})",
                    f"{inner}out += INT_STRUCT.pack(len({v}))",
                    f"{inner}out += {v}",
                ]
            else:
                item = self._temp("item")
                lines += [f"{inner}out += INT_STRUCT.pack(len({v}))", f"{inner}for {item} in {v}:"]
                self._encode_one(item, kind.item, inner + "    ", lines)
            return
        self._encode_fields(v, kind.FIELDS, indent, lines)


def record(name: str, fields: list[tuple[str, Any]]) -> type:
    """Declares a Jute record and returns its compiled class."""
    field_tuple = tuple(fields)
    names = tuple(n for n, _ in field_tuple)
    compiler = _Compiler(field_tuple)
    namespace = compiler.namespace
    cls_namespace: dict[str, Any] = {"__slots__": names, "FIELDS": field_tuple}

    params = ", ".join(names)
    init_body = "\n".join(f"    self.{n} = {n}" for n in names) or "    pass"
    exec(f"def __init__(self, {params}):\n{init_body}" if names else "def __init__(self):\n    pass",
         namespace)
    cls_namespace["__init__"] = namespace["__init__"]

    exec(compiler.encode_source(), namespace)
    cls_namespace["encode"] = namespace["encode"]

    def __eq__(self: Any, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in names)

    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{name}({inner})"

    def to_bytes(self: Any) -> bytes:
        out = bytearray()
        self.encode(out)
        return bytes(out)

    cls_namespace.update(__eq__=__eq__, __repr__=__repr__, to_bytes=to_bytes, __hash__=None)
    cls = type(name, (), cls_namespace)

    namespace[name] = cls
    exec(compiler.decode_source(name), namespace)
    cls.decode = staticmethod(namespace["decode"])  # type: ignore[attr-defined]

    def from_bytes(data: bytes, offset: int = 0) -> Any:
        """Decodes one record; trailing bytes are ignored, as Java's readRecord does."""
        return namespace["decode"](data, offset)[0]

    cls.from_bytes = staticmethod(from_bytes)  # type: ignore[attr-defined]
    return cls
