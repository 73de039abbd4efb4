"""QuorumPacket codec: golden bytes, round trips, incremental reading and malformed streams."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkpy.jute import records as r
from zkpy.zab import packets as p
from zkpy.zab.packets import PacketError, PacketReader, PacketType, QuorumPacket, packet

JAVA_LONG = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)
# Jute writes characters beyond the BMP as Java does (CESU-8), so they come back replaced; the
# string codec's own tests cover that.
TEXT = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)), max_size=12)
IDS = st.builds(r.Id, TEXT, TEXT)
NOT_SNAP = st.sampled_from(sorted(PacketType.values() - {PacketType.SNAP}))


@st.composite
def quorum_packets(draw: st.DrawFn, kinds: st.SearchStrategy[PacketType] = NOT_SNAP) -> QuorumPacket:
    data = draw(st.none() | st.binary(max_size=64))
    auth = draw(st.none() | st.lists(IDS, max_size=3).map(tuple))
    return QuorumPacket(int(draw(kinds)), draw(JAVA_LONG), data, auth)


def test_golden_bytes_of_a_ping_without_data() -> None:
    assert packet(PacketType.PING, 0x100000002) == (
        b"\x00\x00\x00\x05" + b"\x00\x00\x00\x01\x00\x00\x00\x02" + b"\xff\xff\xff\xff" + b"\xff\xff\xff\xff"
    )


def test_golden_bytes_with_data_and_authinfo() -> None:
    raw = packet(PacketType.REQUEST, -1, b"ab", (r.Id("ip", "1.2.3.4"),))
    assert raw == (
        b"\x00\x00\x00\x01" + b"\xff" * 8 + b"\x00\x00\x00\x02ab" + b"\x00\x00\x00\x01"
        + b"\x00\x00\x00\x02ip" + b"\x00\x00\x00\x071.2.3.4"
    )


def test_empty_data_and_empty_authinfo_are_not_null() -> None:
    raw = packet(PacketType.ACK, 7, b"", ())
    assert PacketReader().feed(raw) == [QuorumPacket(PacketType.ACK, 7, b"", ())]


@given(quorum_packets())
def test_round_trip(qp: QuorumPacket) -> None:
    raw = p.encode_packet(qp)
    reader = PacketReader()
    assert reader.feed(raw) == [qp]
    assert reader.take_buffer() == b""


@settings(max_examples=200)
@given(st.lists(quorum_packets(), max_size=6), st.data())
def test_any_split_of_the_stream_yields_the_same_packets(
    packets: list[QuorumPacket], data: st.DataObject
) -> None:
    stream = b"".join(p.encode_packet(qp) for qp in packets)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    reader = PacketReader()
    got: list[QuorumPacket] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        got += reader.feed(stream[start:cut])
        start = cut
    assert got == packets
    assert reader.take_buffer() == b""


@given(st.lists(quorum_packets(), max_size=3), st.binary(min_size=1, max_size=40), st.data())
def test_reading_stops_after_snap_and_keeps_the_database_bytes(
    before: list[QuorumPacket], body: bytes, data: st.DataObject
) -> None:
    snap = QuorumPacket(int(PacketType.SNAP), 0x300000004, None, None)
    after = p.encode_packet(QuorumPacket(int(PacketType.NEWLEADER), 0x400000000, None, None))
    head = b"".join(p.encode_packet(qp) for qp in [*before, snap])
    stream = head + body + after
    cut = data.draw(st.integers(len(head), len(stream)))
    reader = PacketReader()
    assert reader.feed(stream[:cut]) == [*before, snap]
    rest = reader.take_buffer() + stream[cut:]
    assert rest == body + after


def test_bytes_after_snap_are_not_parsed_by_the_same_feed() -> None:
    reader = PacketReader()
    stream = packet(PacketType.SNAP, 5) + packet(PacketType.PING, 6)
    assert [qp.type for qp in reader.feed(stream)] == [PacketType.SNAP]
    assert reader.take_buffer() == packet(PacketType.PING, 6)


def test_a_truncated_packet_waits_for_more_bytes() -> None:
    raw = packet(PacketType.PROPOSAL, 9, b"x" * 10, (r.Id("digest", "u:p"),))
    reader = PacketReader()
    for i in range(len(raw) - 1):
        assert reader.feed(raw[i:i + 1]) == []
    assert reader.feed(raw[-1:]) == [QuorumPacket(PacketType.PROPOSAL, 9, b"x" * 10, (r.Id("digest", "u:p"),))]


@pytest.mark.parametrize("length", [-2, -(1 << 31), p.MAX_PACKET_BYTES + 1, (1 << 31) - 1])
def test_a_bad_data_length_is_an_error(length: int) -> None:
    raw = struct.pack(">iqi", PacketType.PING, 0, length) + b"\xff\xff\xff\xff"
    with pytest.raises(PacketError):
        PacketReader().feed(raw)


@pytest.mark.parametrize("length", [-2, p.MAX_PACKET_BYTES + 1])
def test_a_bad_authinfo_string_length_is_an_error(length: int) -> None:
    raw = struct.pack(">iqi", PacketType.REQUEST, 0, -1) + struct.pack(">i", 1) + struct.pack(">i", length)
    with pytest.raises(PacketError):
        PacketReader().feed(raw + b"\x00" * 8)


@given(st.integers(-(1 << 31), (1 << 31) - 1))
def test_any_data_length_is_either_read_or_refused(length: int) -> None:
    raw = struct.pack(">iqi", PacketType.PING, 0, length) + b"\xff\xff\xff\xff"
    reader = PacketReader()
    if length < -1 or length > p.MAX_PACKET_BYTES:
        with pytest.raises(PacketError):
            reader.feed(raw)
    else:
        reader.feed(raw)


def test_str_names_known_and_unknown_types() -> None:
    assert str(QuorumPacket(int(PacketType.COMMIT), 0x100000001, b"abc")) == "COMMIT zxid=0x100000001 data=3B"
    assert str(QuorumPacket(99, -1)).startswith("UNKNOWN(99) zxid=0xffffffffffffffff")


# ------------------------------------------------------------------------ payloads


def test_learner_info_round_trip_and_old_short_forms() -> None:
    data = p.learner_info(7, 0x100000000)
    assert len(data) == 20
    assert p.decode_learner_info(data) == p.LearnerInfo(7, p.PROTOCOL_VERSION, 0x100000000)
    assert p.decode_learner_info(data[:12]) == p.LearnerInfo(7, p.PROTOCOL_VERSION, None)
    assert p.decode_learner_info(data[:8]) == p.LearnerInfo(7, 0, None)
    assert p.decode_learner_info(None) == p.LearnerInfo(None, 0, None)


@given(st.integers(-(1 << 31), (1 << 31) - 1))
def test_int_payload_round_trip(value: int) -> None:
    assert p.decode_int(p.encode_int(value)) == value


@pytest.mark.parametrize("data", [None, b"", b"\x00\x00\x01"])
def test_a_short_int_payload_is_an_error(data: bytes | None) -> None:
    with pytest.raises(PacketError):
        p.decode_int(data)


@given(st.dictionaries(JAVA_LONG, st.integers(-(1 << 31), (1 << 31) - 1), max_size=5),
       st.binary(max_size=11))
def test_touches_round_trip_and_a_ragged_tail_is_ignored(touches: dict[int, int], tail: bytes) -> None:
    data = p.encode_touches(touches)
    assert p.decode_touches(data) == list(touches.items())
    assert p.decode_touches(data + tail) == list(touches.items())
    assert p.decode_touches(None) == []


def test_request_round_trip_and_short_request() -> None:
    data = p.encode_request(0x1234, 5, 1, b"body")
    assert p.decode_request(data) == (0x1234, 5, 1, b"body")
    with pytest.raises(PacketError):
        p.decode_request(data[:15])
    with pytest.raises(PacketError):
        p.decode_request(None)


def test_revalidate_round_trips_and_short_forms() -> None:
    assert p.decode_revalidate_request(p.encode_revalidate_request(-5, 30000)) == (-5, 30000)
    assert p.decode_revalidate_reply(p.encode_revalidate_reply(9, True)) == (9, True)
    assert p.decode_revalidate_reply(p.encode_revalidate_reply(9, False)) == (9, False)
    with pytest.raises(PacketError):
        p.decode_revalidate_request(b"\x00" * 11)
    with pytest.raises(PacketError):
        p.decode_revalidate_reply(b"\x00" * 8)
