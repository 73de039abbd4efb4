"""zkpy's Jute codec against Apache ZooKeeper's own Java records (Debian's zookeeper-jute.jar).

One JVM run (tests/jute/java/JuteOracle) answers a batch built here:

- the jar's record classes must all be declared by zkpy, with the same Jute type signature;
- golden bytes: every record, in GOLDEN_VARIANT_COUNT deterministic variants (samples.py) and in
  seeded random variants, is built by Java through its setters (which checks zkpy's field names)
  and serialized by BinaryOutputArchive; zkpy must produce identical bytes and decode Java's bytes
  back to an equal record;
- malformed input: Java's BinaryInputArchive and zkpy's decoders must accept and reject the same
  corrupted encodings, and read the same values from the ones they accept (vector counts below
  -1, which Java reads as empty vectors, also have a test of their own);
- strings: zkpy must read malformed UTF-8 as Java's `new String(bytes, UTF_8)` does, and write
  characters above U+FFFF as BinaryOutputArchive does (one 3-byte sequence per UTF-16 unit).

ConnectRequest/ConnectResponse: zkpy leaves out the trailing `readOnly` boolean on purpose. If the
jar's classes have it (3.9's zookeeper.jute), Java's bytes must be zkpy's plus that one byte; the
3.8 jar Debian ships has no such field, and then the bytes must be equal outright.
"""

from __future__ import annotations

import random
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.jute.java_oracle import (
    JUTE_JAR,
    decode_command,
    encode_command,
    missing_java_tools,
    run_oracle,
    signature_command,
    string_command,
)
from tests.jute.samples import golden_variants, random_value
from tests.jute.schema import all_records, record_by_name, signature
from zkpy.jute import records as r
from zkpy.jute.codec import DECODE_ERRORS, INT_STRUCT

_MISSING = missing_java_tools()

pytestmark = pytest.mark.skipif(
    _MISSING is not None, reason=f"the Java Jute oracle needs a JDK and Debian's jars: {_MISSING}"
)

JUTE_PACKAGES = (
    "org/apache/zookeeper/data/",
    "org/apache/zookeeper/proto/",
    "org/apache/zookeeper/txn/",
    "org/apache/zookeeper/server/quorum/",
    "org/apache/zookeeper/server/persistence/",
)
# Records whose Java class may carry a trailing boolean readOnly that zkpy writes by hand.
READ_ONLY_TRAILER = frozenset({"ConnectRequest", "ConnectResponse"})
RANDOM_VARIANTS = 12
MUTATIONS_PER_VARIANT = 6
RECORD_NAMES = [cls.__name__ for cls in all_records()]


@dataclass
class Batch:
    """Oracle commands and, by label, what the Python side needs to check each answer."""

    commands: list[str] = field(default_factory=list)
    cases: dict[str, Any] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)

    def add(self, group: str, label: str, command: str, case: Any) -> None:
        self.commands.append(command)
        self.cases[label] = case
        self.groups.setdefault(group, []).append(label)


def _encode_cases(batch: Batch, kind: str, cls: Any, values: list[Any]) -> None:
    for i, value in enumerate(values):
        label = f"{kind}:{cls.__name__}:{i}"
        batch.add(f"{kind}:{cls.__name__}", label, encode_command(label, value), value)
        if cls.__name__ in READ_ONLY_TRAILER:
            label = f"{kind}+ro:{cls.__name__}:{i}"
            command = encode_command(label, value, (("readOnly", "Z1"),))
            batch.add(f"{kind}+ro:{cls.__name__}", label, command, value)


def _mutations(encoded: bytes, rng: random.Random) -> list[bytes]:
    """Corrupted variants of a valid encoding: a flipped byte, a planted -2/huge length, a cut."""
    out = []
    for _ in range(MUTATIONS_PER_VARIANT):
        data = bytearray(encoded)
        choice = rng.random()
        if data and choice < 0.4:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif len(data) >= 4 and choice < 0.8:
            at = rng.randrange(len(data) - 3)
            data[at : at + 4] = INT_STRUCT.pack(rng.choice([-2, -1, 0, 1, 0x7FFFFFFF, -(2**31)]))
        else:
            del data[rng.randrange(len(data) + 1) :]
        out.append(bytes(data))
    return out


# Malformed and edge UTF-8, as the body of one ustring.
UTF8_CASES = [
    b"",
    b"plain",
    "é€中\U0001d11e".encode(),
    b"\xc3",
    b"\xe2\x82",
    b"\xff\x41\xf0\x9d\x41",
    b"\xf4\x90\x80\x80",
    b"\xc0\x80",
    b"\xed\x9f\xbf",
    b"\xee\x80\x80",
    b"\xf0\x90\x80",
    b"\x80\x80\x80",
]
# UTF-16 surrogates UTF-8-encoded one unit at a time (what Java writes for U+1D11E and for a lone
# surrogate), and cut short. Java's decoder takes ED A0..BF plus at most one continuation byte as
# one malformed sequence, one U+FFFD; Python's "replace" gives one U+FFFD per byte.
SURROGATE_UTF8_CASES = [
    bytes.fromhex(h) for h in ("eda0b4edb49e", "eda0b4", "edbfbf", "eda0", "eda041", "eda0c0")
]
ENCODED_SURROGATE = re.compile(rb"\xed[\xa0-\xbf]")
# Bytes that make UTF-8 decoders disagree: lead bytes of every length, continuations, the bounds
# of overlong, surrogate and beyond-U+10FFFF ranges, and bytes UTF-8 never uses.
UTF8_ALPHABET = bytes.fromhex(
    "41 80 8f 90 9f a0 bf c0 c1 c2 df e0 e1 ec ed ee ef f0 f1 f3 f4 f5 f8 ff"
)
RANDOM_UTF8_CASES = 3000
SUPPLEMENTARY_STRINGS = ["\U0001d11e", "/a/\U0001f600/b", "x\U00010000\U0010ffff"]


_INT = INT_STRUCT.pack
# Records whose vector count is below -1; Java reads each as an empty vector.
NEGATIVE_COUNT_CASES = [
    ("GetChildrenResponse", _INT(-2)),
    ("GetChildrenResponse", _INT(-(2**31))),
    ("SetWatches", bytes(8) + _INT(0) + _INT(-7) + _INT(-1)),
    ("CreateRequest", _INT(2) + b"/a" + _INT(0) + _INT(-5) + _INT(0)),
    ("MultiTxn", _INT(-3)),
]


def _build_batch() -> Batch:
    batch = Batch()
    rng = random.Random(0x7A6B7079)
    for cls in all_records():
        name = cls.__name__
        batch.add("sig", f"sig:{name}", signature_command(f"sig:{name}", name), cls)
        golden = golden_variants(cls)
        _encode_cases(batch, "golden", cls, golden)
        randoms = [random_value(cls, rng) for _ in range(RANDOM_VARIANTS)]
        _encode_cases(batch, "random", cls, randoms)
        for i, data in enumerate(
            m for value in golden + randoms for m in _mutations(value.to_bytes(), rng)
        ):
            label = f"dec:{name}:{i}"
            batch.add(f"dec:{name}", label, decode_command(label, name, data), data)
    for i, (name, data) in enumerate(NEGATIVE_COUNT_CASES):
        label = f"negcount:{i}"
        batch.add("negcount", label, decode_command(label, name, data), data)
    for i, body in enumerate(UTF8_CASES + SURROGATE_UTF8_CASES):
        batch.add("str", f"str:{i}", string_command(f"str:{i}", body), body)
    for i in range(RANDOM_UTF8_CASES):
        body = bytes(rng.choice(UTF8_ALPHABET) for _ in range(rng.randrange(1, 7)))
        batch.add("randstr", f"randstr:{i}", string_command(f"randstr:{i}", body), body)
    for i, text in enumerate(SUPPLEMENTARY_STRINGS):
        value = r.Id("digest", text)
        batch.add("astral", f"astral:{i}", encode_command(f"astral:{i}", value), value)
    return batch


@pytest.fixture(scope="module")
def oracle() -> tuple[Batch, dict[str, tuple[bool, str]]]:
    batch = _build_batch()
    return batch, run_oracle(batch.commands)


def _java_bytes(answer: tuple[bool, str], label: str) -> bytes:
    ok, text = answer
    assert ok, f"{label}: Java could not build the record: {text}"
    return b"" if text == "-" else bytes.fromhex(text)


def _java_has_read_only(oracle: Any, name: str) -> bool:
    _, answers = oracle
    java_signature = answers[f"sig:{name}"][1]
    with_read_only = signature(record_by_name()[name])[:-1] + "z)"
    return name in READ_ONLY_TRAILER and java_signature == with_read_only


def test_every_jute_record_in_the_jar_is_declared() -> None:
    with zipfile.ZipFile(JUTE_JAR) as jar:
        java_names = {
            entry.rsplit("/", 1)[1].removesuffix(".class")
            for entry in jar.namelist()
            if entry.endswith(".class") and "$" not in entry
            and any(entry.startswith(p) and "/" not in entry[len(p):] for p in JUTE_PACKAGES)
        }
    zkpy_names = set(RECORD_NAMES)
    assert sorted(java_names - zkpy_names) == [], "Jute records in the jar that zkpy lacks"
    assert sorted(zkpy_names - java_names) == [], "zkpy records the jar does not have"


@pytest.mark.parametrize("name", RECORD_NAMES)
def test_signature_matches_java(oracle: Any, name: str) -> None:
    _, answers = oracle
    ok, java_signature = answers[f"sig:{name}"]
    assert ok, java_signature
    expected = signature(record_by_name()[name])
    if _java_has_read_only(oracle, name):
        expected = expected[:-1] + "z)"
    assert java_signature == expected


def _check_encodings(oracle: Any, kind: str, name: str) -> None:
    batch, answers = oracle
    cls = record_by_name()[name]
    read_only = _java_has_read_only(oracle, name)
    label_kind = f"{kind}+ro" if read_only else kind
    for label in batch.groups[f"{label_kind}:{name}"]:
        value = batch.cases[label]
        java = _java_bytes(answers[label], label)
        ours = value.to_bytes()
        expected = ours + b"\x01" if read_only else ours
        assert java.hex() == expected.hex(), f"{label}: {value!r}"
        assert cls.decode(java, 0) == (value, len(ours)), label


@pytest.mark.parametrize("name", RECORD_NAMES)
def test_golden_bytes_match_java(oracle: Any, name: str) -> None:
    _check_encodings(oracle, "golden", name)


@pytest.mark.parametrize("name", RECORD_NAMES)
def test_random_values_match_java(oracle: Any, name: str) -> None:
    _check_encodings(oracle, "random", name)


def _zkpy_decode(cls: Any, data: bytes) -> tuple[bool, str]:
    try:
        record, consumed = cls.decode(data, 0)
    except DECODE_ERRORS as error:
        return False, f"{type(error).__name__}: {error}"
    return True, f"{record.to_bytes().hex() or '-'} {consumed}"


def _known_divergence(data: bytes) -> bool:
    """Inputs whose mismatch test_utf8_encoded_surrogates_read_like_java pins down on its own."""
    return ENCODED_SURROGATE.search(data) is not None


@pytest.mark.parametrize("name", RECORD_NAMES)
def test_malformed_input_decodes_like_java(oracle: Any, name: str) -> None:
    """Same accept/reject verdict as BinaryInputArchive, and the same values when accepted."""
    batch, answers = oracle
    cls = record_by_name()[name]
    mismatches = []
    for label in batch.groups[f"dec:{name}"]:
        data = batch.cases[label]
        java_ok, java_answer = answers[label]
        ours_ok, ours_answer = _zkpy_decode(cls, data)
        if java_ok != ours_ok or (java_ok and java_answer != ours_answer):
            if not _known_divergence(data):
                mismatches.append(f"{data.hex()}: java={java_answer} zkpy={ours_answer}")
    shown = "\n".join(mismatches[:5])
    assert not mismatches, f"{len(mismatches)} inputs decode differently:\n{shown}"


@pytest.mark.parametrize("index", range(len(NEGATIVE_COUNT_CASES)))
def test_vector_count_below_minus_one_reads_as_empty_like_java(oracle: Any, index: int) -> None:
    """BinaryInputArchive's Index.done() is `nelems <= 0`: a count of -2 or less is an empty vector.

    Were zkpy to refuse it, a request Java serves would make zkpy close the connection, and a log
    or snapshot Java reads would make zkpy fail.
    """
    _, answers = oracle
    name, data = NEGATIVE_COUNT_CASES[index]
    java_ok, java_answer = answers[f"negcount:{index}"]
    assert java_ok, java_answer
    assert _zkpy_decode(record_by_name()[name], data) == (True, java_answer)


def _utf16_units(text: str) -> str:
    return text.encode("utf-16-be", "surrogatepass").hex() or "-"


def _zkpy_read_string(body: bytes) -> str:
    return r.SyncRequest.from_bytes(len(body).to_bytes(4, "big") + body).path


@pytest.mark.parametrize("index", range(len(UTF8_CASES)))
def test_malformed_utf8_reads_like_java(oracle: Any, index: int) -> None:
    _, answers = oracle
    body = UTF8_CASES[index]
    ok, java_units = answers[f"str:{index}"]
    assert ok, java_units
    assert _utf16_units(_zkpy_read_string(body)) == java_units, body.hex()


def test_random_malformed_utf8_reads_like_java(oracle: Any) -> None:
    batch, answers = oracle
    mismatches = []
    for label in batch.groups["randstr"]:
        body = batch.cases[label]
        ours = _utf16_units(_zkpy_read_string(body))
        if answers[label] != (True, ours) and not _known_divergence(body):
            mismatches.append(f"{body.hex()}: java={answers[label][1]} zkpy={ours}")
    assert not mismatches, "\n".join(mismatches[:10])


@pytest.mark.parametrize("index", range(len(SURROGATE_UTF8_CASES)))
def test_utf8_encoded_surrogates_read_like_java(oracle: Any, index: int) -> None:
    """Java reads ED A0..BF (and one more continuation byte, if any) as one U+FFFD; zkpy must too.

    Otherwise a string a Java client sends (it writes U+1D11E as eda0b4 edb49e) is stored and
    answered differently: Java keeps two U+FFFD, zkpy six (Id.id in an ACL, for one).
    """
    _, answers = oracle
    body = SURROGATE_UTF8_CASES[index]
    ok, java_units = answers[f"str:{len(UTF8_CASES) + index}"]
    assert ok, java_units
    assert _utf16_units(_zkpy_read_string(body)) == java_units, body.hex()


@pytest.mark.parametrize("index", range(len(SUPPLEMENTARY_STRINGS)))
def test_supplementary_characters_write_like_java(oracle: Any, index: int) -> None:
    """BinaryOutputArchive writes each UTF-16 unit on its own: U+1D11E is eda0b4 edb49e.

    zkpy writes standard UTF-8 (f09d849e). Java readers accept both (UTF8_CASES[2] checks that),
    so this only shows in bytes compared or stored: logs, snapshots, captures.
    """
    batch, answers = oracle
    label = f"astral:{index}"
    java = _java_bytes(answers[label], label)
    assert batch.cases[label].to_bytes().hex() == java.hex()
