from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.zab.java_oracle import missing_java_tools, run_oracle
from zkpy.zab.election_wire import (
    MAX_ADDRESS_BYTES,
    MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION_V1,
    PROTOCOL_VERSION_V2,
    FrameDecoder,
    FrameError,
    Handshake,
    HandshakeError,
    Notification,
    NotificationError,
    PeerState,
    connection_survives,
    decode_handshake,
    decode_notification,
    encode_frame,
    encode_handshake,
    encode_notification,
)
from zkpy.zab.zxid import LONG_MAX, LONG_MIN

longs = st.integers(LONG_MIN, LONG_MAX)
ints = st.integers(-(1 << 31), (1 << 31) - 1)
CONFIG = b"server.1=127.0.0.1:2888:3888:participant\nversion=0"

# --- notifications -----------------------------------------------------------------------------


def test_golden_notification_bytes() -> None:
    # FastLeaderElection.buildMsg: putInt(state) putLong(leader) putLong(zxid)
    # putLong(electionEpoch) putLong(peerEpoch) putInt(0x2) putInt(config.length) put(config)
    n = Notification(PeerState.FOLLOWING, 3, 0x100000005, 2, 1, 2, b"server.1=x\nversion=0")
    expected = (
        bytes.fromhex(
            "00000001"
            "0000000000000003"
            "0000000100000005"
            "0000000000000002"
            "0000000000000001"
            "00000002"
            "00000014"
        )
        + b"server.1=x\nversion=0"
    )
    assert encode_notification(n) == expected
    assert decode_notification(expected) == n


def test_golden_notification_with_negative_longs() -> None:
    # An observer's initial vote: Long.MIN_VALUE for leader, zxid and epoch; no config.
    n = Notification(PeerState.LOOKING, LONG_MIN, LONG_MIN, 1, LONG_MIN, 2, b"")
    expected = bytes.fromhex(
        "00000000"
        + "8000000000000000" * 2
        + "0000000000000001"
        + "8000000000000000"
        + "00000002"
        + "00000000"
    )
    assert encode_notification(n) == expected
    assert decode_notification(expected) == n


def test_encoder_always_writes_the_current_version() -> None:
    old = Notification(0, 1, 2, 3, 4, version=0, config=None)
    data = encode_notification(old)
    assert len(data) == 44
    assert decode_notification(data) == Notification(0, 1, 2, 3, 4, 2, b"")


def test_decode_28_byte_form_takes_peer_epoch_from_zxid() -> None:
    data = struct.pack(">iqqq", 2, 5, 0x700000003, 9)
    assert decode_notification(data) == Notification(2, 5, 0x700000003, 9, 7, 0, None)
    negative = struct.pack(">iqqq", 0, 5, -1, 9)
    assert decode_notification(negative).peer_epoch == -1


def test_decode_40_byte_form_has_no_version() -> None:
    # The 40-byte buildMsg of older servers ends with putInt(0x1); the receiver ignores it.
    data = struct.pack(">iqqqqi", 1, 5, 0x700000003, 9, 6, 0x1)
    assert decode_notification(data) == Notification(1, 5, 0x700000003, 9, 6, 0, None)


def test_decode_version_1_has_no_config() -> None:
    data = struct.pack(">iqqqqi", 1, 5, 6, 7, 8, 0x1) + b"\x00"
    assert decode_notification(data) == Notification(1, 5, 6, 7, 8, 1, None)


def test_trailing_bytes_after_config_are_ignored() -> None:
    data = encode_notification(Notification(0, 1, 2, 3, 4, 2, b"abc")) + b"junk"
    assert decode_notification(data).config == b"abc"


def test_unknown_state_is_kept_raw() -> None:
    data = encode_notification(Notification(7, 1, 2, 3, 4))
    assert decode_notification(data).state == 7


@pytest.mark.parametrize("size", [0, 4, 27, 29, 35, 36, 39])
def test_short_or_partial_forms_are_refused(size: int) -> None:
    data = encode_notification(Notification(0, 1, 2, 3, 4, 2, b"x" * 10))[:size]
    with pytest.raises(NotificationError):
        decode_notification(data)


@pytest.mark.parametrize(
    "data",
    [
        struct.pack(">iqqqqi", 0, 1, 2, 3, 4, 2) + b"\x00\x00",  # version 2 but no config length
        struct.pack(">iqqqqii", 0, 1, 2, 3, 4, 2, -1),  # negative config length
        struct.pack(">iqqqqii", 0, 1, 2, 3, 4, 2, 45),  # config length beyond the message
        struct.pack(">iqqqqii", 0, 1, 2, 3, 4, 2, 10) + b"short",  # config cut off
    ],
)
def test_malformed_config_is_refused(data: bytes) -> None:
    with pytest.raises(NotificationError):
        decode_notification(data)


@given(
    state=st.integers(0, 3),
    leader=longs,
    zxid=longs,
    election_epoch=longs,
    peer_epoch=longs,
    config=st.binary(max_size=300),
)
def test_notification_round_trip(
    state: int, leader: int, zxid: int, election_epoch: int, peer_epoch: int, config: bytes
) -> None:
    n = Notification(state, leader, zxid, election_epoch, peer_epoch, 2, config)
    assert decode_notification(encode_notification(n)) == n


@given(st.binary(max_size=120))
def test_decoder_only_raises_notification_error(data: bytes) -> None:
    with contextlib.suppress(NotificationError):
        decode_notification(data)


# --- handshake ---------------------------------------------------------------------------------


def test_golden_handshake_v1() -> None:
    data = encode_handshake(3, [("127.0.0.1", 3888), ("10.0.0.1", 3888)])
    assert data == bytes.fromhex("ffffffffffff000000000000000000030000000e") + b"127.0.0.1:3888"
    assert decode_handshake(data) == (
        Handshake(3, PROTOCOL_VERSION_V1, (("127.0.0.1", 3888),)),
        len(data),
    )


def test_handshake_v2_carries_every_address() -> None:
    data = encode_handshake(4, [("a", 1), ("::1", 2)], PROTOCOL_VERSION_V2)
    assert data[:8] == bytes.fromhex("ffffffffffff0001")
    assert data.endswith(b"a:1|[::1]:2")
    assert decode_handshake(data) == (
        Handshake(4, PROTOCOL_VERSION_V2, (("a", 1), ("::1", 2))),
        len(data),
    )


def test_handshake_waits_for_all_bytes_and_leaves_the_rest() -> None:
    data = encode_handshake(3, [("127.0.0.1", 3888)])
    for cut in range(len(data)):
        assert decode_handshake(data[:cut]) is None
    decoded = decode_handshake(data + b"\x00\x00\x00\x01x")
    assert decoded is not None and decoded[1] == len(data)


def test_legacy_handshake_is_just_the_sid() -> None:
    assert decode_handshake(struct.pack(">q", 9)) == (Handshake(9, None), 8)


def test_wildcard_addresses_are_dropped() -> None:
    data = _raw_handshake(PROTOCOL_VERSION_V2, 2, b"0.0.0.0:3888|[::]:3888|h:1")
    assert decode_handshake(data) == (Handshake(2, PROTOCOL_VERSION_V2, (("h", 1),)), len(data))


@pytest.mark.parametrize(
    "data",
    [
        struct.pack(">q", -7),
        struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 0),
        struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, MAX_ADDRESS_BYTES + 1),
        struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 8) + b"host:1:2",
        struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 6) + b"host:x",
        struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 5) + b"[::1]",
        struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 4) + b"host",
    ],
)
def test_bad_handshakes_are_refused(data: bytes) -> None:
    with pytest.raises(HandshakeError):
        decode_handshake(data)


def test_address_text_is_decoded_leniently_like_java_strings() -> None:
    data = _raw_handshake(PROTOCOL_VERSION_V1, 2, b"h\xff:1")
    assert decode_handshake(data) == (
        Handshake(2, PROTOCOL_VERSION_V1, (("h\ufffd", 1),)),
        len(data),
    )


def test_larger_sid_keeps_its_connection() -> None:
    assert connection_survives(initiator_sid=3, acceptor_sid=1)
    assert not connection_survives(initiator_sid=1, acceptor_sid=3)
    assert not connection_survives(initiator_sid=2, acceptor_sid=2)


def _raw_handshake(version: int, sid: int, text: bytes) -> bytes:
    return struct.pack(">qqi", version, sid, len(text)) + text


# --- framing -----------------------------------------------------------------------------------


def test_frames_split_across_reads() -> None:
    stream = encode_frame(b"abc") + encode_frame(b"x" * 1000) + encode_frame(b"z")
    decoder = FrameDecoder()
    got: list[bytes] = []
    for i in range(0, len(stream), 7):
        got += decoder.feed(stream[i : i + 7])
    assert got == [b"abc", b"x" * 1000, b"z"]


def test_frame_decoder_starts_with_bytes_left_by_the_handshake() -> None:
    assert FrameDecoder(encode_frame(b"a")[:3]).feed(encode_frame(b"a")[3:]) == [b"a"]


@pytest.mark.parametrize("length", [0, -1, MAX_MESSAGE_BYTES + 1])
def test_bad_frame_lengths_break_the_connection(length: int) -> None:
    with pytest.raises(FrameError):
        FrameDecoder().feed(struct.pack(">i", length))


def test_largest_frame() -> None:
    payload = b"p" * MAX_MESSAGE_BYTES
    assert FrameDecoder().feed(encode_frame(payload)) == [payload]
    with pytest.raises(FrameError):
        encode_frame(payload + b"p")
    with pytest.raises(FrameError):
        encode_frame(b"")


# --- Apache ZooKeeper as the oracle ------------------------------------------------------------

needs_java = pytest.mark.skipif(missing_java_tools() is not None, reason=str(missing_java_tools()))


@needs_java
def test_encoding_matches_build_msg_and_handshakes_match_initial_message() -> None:
    notifications = [
        Notification(0, 1, 0, 1, 0, 2, b""),
        Notification(1, 3, 0x100000005, 2, 1, 2, CONFIG),
        Notification(3, LONG_MIN, LONG_MIN, LONG_MAX, LONG_MIN, 2, "é".encode()),
        Notification(2, -1, -1, -1, -1, 2, b"x" * 600),
    ]
    handshakes = [
        encode_handshake(3, [("127.0.0.1", 3888)]),
        encode_handshake(4, [("127.0.0.3", 1), ("::1", 2)], PROTOCOL_VERSION_V2),
        _raw_handshake(PROTOCOL_VERSION_V2, 2, b"0.0.0.0:3888|[::]:3888|127.0.0.2:1"),
        _raw_handshake(PROTOCOL_VERSION_V1, 2, b"h:1:2"),
        _raw_handshake(PROTOCOL_VERSION_V1, 2, b"h:x"),
        _raw_handshake(PROTOCOL_VERSION_V1, 2, b"[::1]"),
        _raw_handshake(PROTOCOL_VERSION_V1, 2, b"[::1]:7"),
        _raw_handshake(PROTOCOL_VERSION_V1, 2, b"127.0.0.1: 80"),
        _raw_handshake(PROTOCOL_VERSION_V1, 2, b"127.0.0.1:+80"),
        _raw_handshake(PROTOCOL_VERSION_V1, 2, b"127.0.0.1:8_0"),
        struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 0),
        struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, MAX_ADDRESS_BYTES + 1),
        struct.pack(">qqi", -5, 1, 1) + b"a",
    ]
    commands = [
        f"MSG n{i} {n.state} {n.leader} {n.zxid} {n.election_epoch} {n.peer_epoch}"
        f" {(n.config or b'').hex() or '-'}"
        for i, n in enumerate(notifications)
    ]
    commands += [f"HS h{i} {data.hex()}" for i, data in enumerate(handshakes)]
    answers = run_oracle(commands)
    for i, n in enumerate(notifications):
        ok, java_hex = answers[f"n{i}"]
        assert ok and bytes.fromhex(java_hex) == encode_notification(n)
    for i, data in enumerate(handshakes):
        java_ok, java_answer = answers[f"h{i}"]
        try:
            decoded = decode_handshake(data)
        except HandshakeError:
            assert not java_ok, java_answer
            continue
        assert java_ok, java_answer
        assert decoded is not None
        handshake = decoded[0]
        sid, _, addresses = java_answer.partition(" ")
        assert int(sid) == handshake.sid
        ours = "|".join(f"{_java_host(host)}:{port}" for host, port in handshake.addresses)
        assert addresses == ours


@needs_java
def test_config_text_matches_quorum_maj_to_string() -> None:
    from zkpy.zab.quorum import QuorumMaj

    cases = [
        "server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889:observer;2181\n"
        "server.3=127.0.0.1:2890:3890:participant;127.0.0.1:2182\n",
        "".join(f"server.{sid}=127.0.0.1:{1000 + sid}:{2000 + sid}\n" for sid in range(1, 21))
        + "version=100000000\n",
        "server.16=127.0.0.1:1:2\nserver.2=127.0.0.1:3:4\nserver.1=127.0.0.1:5:6:observer\n",
    ]
    answers = run_oracle([f"QV q{i} {text.encode().hex()}" for i, text in enumerate(cases)])
    for i in range(len(cases)):
        ok, java_hex = answers[f"q{i}"]
        assert ok, java_hex
        java_text = bytes.fromhex(java_hex).decode()
        # zkpy keeps each server.N value as QuorumServer.toString prints it, so feed it Java's.
        ours = QuorumMaj.from_config_text(java_text)
        assert ours.to_config_text() == java_text


def _java_host(host: str) -> str:
    """InetSocketAddress.getHostString spells IPv6 literals out in full."""
    import ipaddress

    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 4:
        return host
    return ":".join(f"{int(group, 16):x}" for group in address.exploded.split(":"))
