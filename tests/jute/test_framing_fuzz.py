"""Fuzz tests for the client port's length-prefixed framing (zkpy.jute.framing).

A TCP stream may be cut anywhere. Whatever the cuts, the Deframer must hand back exactly the
frames that were sent, in order, each as soon as its last byte arrives and never before; and a
length ZooKeeper refuses (negative, or above jute.maxbuffer) must be a FrameError as soon as its
four bytes are in, however they were split.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.jute.strategies import FAST
from zkpy.jute.codec import INT_STRUCT
from zkpy.jute.framing import DEFAULT_MAX_BUFFER, Deframer, FrameError, frame

SMALL_MAX_FRAME_BYTES = 64
PAYLOADS = st.lists(st.binary(max_size=SMALL_MAX_FRAME_BYTES), max_size=8)


@st.composite
def chunked(draw: st.DrawFn, stream: bytes) -> list[bytes]:
    """`stream` cut at arbitrary points (empty chunks included: a read may return nothing new)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    bounds = [0, *cuts, len(stream)]
    return [stream[a:b] for a, b in zip(bounds, bounds[1:])]


def _frame_ends(payloads: list[bytes]) -> list[int]:
    """Stream offsets at which each frame is complete."""
    ends, at = [], 0
    for payload in payloads:
        at += 4 + len(payload)
        ends.append(at)
    return ends


@FAST
@given(data=st.data(), payloads=PAYLOADS, last=st.binary(max_size=SMALL_MAX_FRAME_BYTES))
def test_any_chunking_yields_exactly_the_frames_sent(
    data: st.DataObject, payloads: list[bytes], last: bytes
) -> None:
    """Also: the bytes of an unfinished frame wait, and peek shows its length bytes."""
    unfinished = frame(last)[: data.draw(st.integers(0, 3 + len(last)))]
    stream = b"".join(frame(p) for p in payloads) + unfinished
    deframer = Deframer(SMALL_MAX_FRAME_BYTES)
    ends = _frame_ends(payloads)
    received: list[bytes] = []
    fed = 0
    for chunk in data.draw(chunked(stream)):
        got = deframer.feed(chunk)
        assert all(isinstance(f, bytes) for f in got)
        received += got
        fed += len(chunk)
        complete = sum(1 for end in ends if end <= fed)
        assert received == payloads[:complete]
        consumed = ends[complete - 1] if complete else 0
        assert deframer.pending_bytes == fed - consumed
        expected_peek = stream[consumed : consumed + 4] if fed - consumed >= 4 else None
        assert deframer.peek_length_bytes() == expected_peek
    assert received == payloads
    assert deframer.pending_bytes == len(unfinished)


@pytest.mark.parametrize("max_frame_bytes", [0, 1, SMALL_MAX_FRAME_BYTES, DEFAULT_MAX_BUFFER])
def test_a_frame_of_exactly_the_limit_is_accepted(max_frame_bytes: int) -> None:
    payload = bytes(range(256)) * (max_frame_bytes // 256) + bytes(max_frame_bytes % 256)
    assert Deframer(max_frame_bytes).feed(frame(payload)) == [payload]


def test_the_default_limit_is_jute_maxbuffer() -> None:
    assert Deframer().max_frame_bytes == DEFAULT_MAX_BUFFER == 0xFFFFF


BAD_LENGTHS = st.one_of(
    st.integers(-(2**31), -1),
    st.integers(SMALL_MAX_FRAME_BYTES + 1, 2**31 - 1),
    st.sampled_from([-1, -(2**31), SMALL_MAX_FRAME_BYTES + 1, 2**31 - 1]),
)


@FAST
@given(data=st.data(), payloads=PAYLOADS, bad_length=BAD_LENGTHS, tail=st.binary(max_size=16))
def test_a_refused_length_raises_once_its_four_bytes_are_in(
    data: st.DataObject, payloads: list[bytes], bad_length: int, tail: bytes
) -> None:
    good = b"".join(frame(p) for p in payloads)
    stream = good + INT_STRUCT.pack(bad_length) + tail
    deframer = Deframer(SMALL_MAX_FRAME_BYTES)
    received: list[bytes] = []
    fed = 0
    for chunk in data.draw(chunked(stream)):
        fed += len(chunk)
        if fed < len(good) + 4:
            received += deframer.feed(chunk)
            continue
        with pytest.raises(FrameError):
            deframer.feed(chunk)
        break
    else:
        pytest.fail("the refused length was never reported")
    assert received == payloads[: len(received)]


@FAST
@given(garbage=st.binary(max_size=200), data=st.data())
def test_random_bytes_give_frames_or_frame_error_only(garbage: bytes, data: st.DataObject) -> None:
    deframer = Deframer(SMALL_MAX_FRAME_BYTES)
    total = 0
    try:
        for chunk in data.draw(chunked(garbage)):
            for got in deframer.feed(chunk):
                assert len(got) <= SMALL_MAX_FRAME_BYTES
                total += 4 + len(got)
    except FrameError:
        return
    assert total + deframer.pending_bytes == len(garbage)
