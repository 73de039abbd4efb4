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


def _read_buffer(buf: bytes, off: int) -> tuple[bytes | None, int]:
    (n,) = INT_STRUCT.unpack_from(buf, off)
    off += 4
    if n < 0:
        if n != -1:
            raise DecodeError(f"negative buffer length {n}")
        return None, off
    end = off + n
    if end > len(buf):
        raise DecodeError(f"buffer length {n} exceeds the {len(buf) - off} bytes left")
    return buf[off:end], end


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


def _write_buffer(out: bytearray, value: bytes | None) -> None:
    if value is None:
        out += NULL_LENGTH
    else:
        out += INT_STRUCT.pack(len(value))
        out += value


def _write_ustring(out: bytearray, value: str | None) -> None:
    if value is None:
        out += NULL_LENGTH
    else:
        # isascii() is a flag check on a str: the common case skips _java_utf8's scan.
        data = value.encode() if value.isascii() else _java_utf8(value)
        out += INT_STRUCT.pack(len(data))
        out += data


def _min_size(kind: Any) -> int:
    if kind in _FIXED_FORMATS:
        return struct.calcsize(">" + _FIXED_FORMATS[kind])
    if kind in (BUFFER, USTRING) or isinstance(kind, Vector):
        return 4
    return sum(_min_size(k) for _, k in kind.FIELDS) or 1


class _Compiler:
    """Generates the decode/encode source of one record class."""

    def __init__(self, fields: tuple[tuple[str, Any], ...]):
        self.fields = fields
        self.namespace: dict[str, Any] = {
            "_read_buffer": _read_buffer,
            "_read_ustring": read_ustring,
            "_read_count": _read_count,
            "_write_buffer": _write_buffer,
            "_write_ustring": _write_ustring,
            "INT_STRUCT": INT_STRUCT,
        }
        self._counter = 0

    def _name(self, prefix: str, value: Any) -> str:
        self._counter += 1
        name = f"{prefix}{self._counter}"
        self.namespace[name] = value
        return name

    def _fixed_runs(self) -> list[list[tuple[str, Any]]]:
        """Groups the fields into runs: consecutive fixed-size fields share one run."""
        runs: list[list[tuple[str, Any]]] = []
        for name, kind in self.fields:
            fixed = kind in _FIXED_FORMATS
            if fixed and runs and runs[-1][0][1] in _FIXED_FORMATS:
                runs[-1].append((name, kind))
            else:
                runs.append([(name, kind)])
        return runs

    def decode_source(self, cls_name: str) -> str:
        lines = ["def decode(buf, off):"]
        for run in self._fixed_runs():
            first_kind = run[0][1]
            if first_kind in _FIXED_FORMATS:
                st = struct.Struct(">" + "".join(_FIXED_FORMATS[k] for _, k in run))
                s = self._name("_S", st)
                targets = ", ".join(f"f_{n}" for n, _ in run)
                lines.append(f"    {targets}, = {s}.unpack_from(buf, off)")
                lines.append(f"    off += {st.size}")
            else:
                name, kind = run[0]
                lines.extend(self._decode_one(f"f_{name}", kind, "    "))
        args = ", ".join(f"f_{n}" for n, _ in self.fields)
        lines.append(f"    return {cls_name}({args}), off")
        return "\n".join(lines)

    def _decode_one(self, target: str, kind: Any, indent: str) -> list[str]:
        if kind == BUFFER:
            return [f"{indent}{target}, off = _read_buffer(buf, off)"]
        if kind == USTRING:
            return [f"{indent}{target}, off = _read_ustring(buf, off)"]
        if kind in _FIXED_FORMATS:
            st = struct.Struct(">" + _FIXED_FORMATS[kind])
            s = self._name("_S", st)
            return [f"{indent}{target}, = {s}.unpack_from(buf, off)", f"{indent}off += {st.size}"]
        if isinstance(kind, Vector):
            item = f"{target}_item"
            lines = [
                f"{indent}n_{target}, off = _read_count(buf, off, {_min_size(kind.item)})",
                f"{indent}if n_{target} < 0:",
                f"{indent}    {target} = None",
                f"{indent}else:",
                f"{indent}    {target} = []",
                f"{indent}    for _ in range(n_{target}):",
            ]
            lines.extend(self._decode_one(item, kind.item, indent + "        "))
            lines.append(f"{indent}        {target}.append({item})")
            return lines
        rec = self._name("_R", kind)
        return [f"{indent}{target}, off = {rec}.decode(buf, off)"]

    def encode_source(self) -> str:
        lines = ["def encode(self, out):"]
        for run in self._fixed_runs():
            first_kind = run[0][1]
            if first_kind in _FIXED_FORMATS:
                st = struct.Struct(">" + "".join(_FIXED_FORMATS[k] for _, k in run))
                s = self._name("_S", st)
                values = ", ".join(f"self.{n}" for n, _ in run)
                lines.append(f"    out += {s}.pack({values})")
            else:
                name, kind = run[0]
                lines.extend(self._encode_one(f"self.{name}", kind, "    ", 0))
        if len(lines) == 1:
            lines.append("    pass")
        return "\n".join(lines)

    def _encode_one(self, value: str, kind: Any, indent: str, depth: int) -> list[str]:
        if kind == BUFFER:
            return [f"{indent}_write_buffer(out, {value})"]
        if kind == USTRING:
            return [f"{indent}_write_ustring(out, {value})"]
        if kind in _FIXED_FORMATS:
            st = struct.Struct(">" + _FIXED_FORMATS[kind])
            s = self._name("_S", st)
            return [f"{indent}out += {s}.pack({value})"]
        if isinstance(kind, Vector):
            item = f"item{depth}"
            lines = [
                f"{indent}if {value} is None:",
                f"{indent}    out += INT_STRUCT.pack(-1)",
                f"{indent}else:",
                f"{indent}    out += INT_STRUCT.pack(len({value}))",
                f"{indent}    for {item} in {value}:",
            ]
            lines.extend(self._encode_one(item, kind.item, indent + "        ", depth + 1))
            return lines
        return [f"{indent}{value}.encode(out)"]


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
