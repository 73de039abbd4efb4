from __future__ import annotations

import gzip
import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkpy.persistence.snapstream import (
    GZIP,
    NONE,
    SNAPPY,
    SNAPPY_BLOCK_SIZE,
    CompressionError,
    compress,
    decompress,
    looks_valid,
    method_of_file,
    parse_method,
)


def roundtrip(data_chunks: list[bytes], method: str, read_size: int = 1000) -> bytes:
    compressed = b"".join(compress(iter(data_chunks), method))
    pieces = [compressed[i:i + read_size] for i in range(0, len(compressed), read_size)]
    return b"".join(decompress(iter(pieces), method))


@pytest.mark.parametrize("method", [NONE, GZIP, SNAPPY])
def test_roundtrip_across_chunk_boundaries(method: str) -> None:
    chunks = [os.urandom(100), b"a" * 100_000, b"", os.urandom(70_000), b"xyz"]
    assert roundtrip(chunks, method, read_size=777) == b"".join(chunks)


@settings(max_examples=50)
@given(st.lists(st.binary(max_size=5000), max_size=5), st.sampled_from([GZIP, SNAPPY]),
       st.integers(min_value=1, max_value=4096))
def test_roundtrip_property(chunks: list[bytes], method: str, read_size: int) -> None:
    assert roundtrip(chunks, method, read_size) == b"".join(chunks)


def test_gzip_is_plain_gzip() -> None:
    data = os.urandom(5000)
    assert gzip.decompress(b"".join(compress([data], GZIP))) == data
    assert b"".join(decompress([gzip.compress(data)], GZIP)) == data
    # GZIPInputStream reads concatenated members; so do we.
    assert b"".join(decompress([gzip.compress(b"ab") + gzip.compress(b"cd")], GZIP)) == b"abcd"


def test_snappy_uses_snappy_java_stream_framing() -> None:
    data = b"z" * (SNAPPY_BLOCK_SIZE + 10)
    stream = b"".join(compress([data], SNAPPY))
    assert stream[:16] == b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)
    (first_length,) = struct.unpack_from(">i", stream, 16)
    (second_length,) = struct.unpack_from(">i", stream, 20 + first_length)
    assert len(stream) == 16 + 4 + first_length + 4 + second_length


def test_snappy_reads_concatenated_streams() -> None:
    stream = b"".join(compress([b"hello "], SNAPPY)) + b"".join(compress([b"world"], SNAPPY))
    assert b"".join(decompress([stream], SNAPPY)) == b"hello world"


@pytest.mark.parametrize("method", [GZIP, SNAPPY])
def test_truncated_or_damaged_streams_raise(method: str) -> None:
    stream = b"".join(compress([os.urandom(50_000)], method))
    with pytest.raises(CompressionError):
        b"".join(decompress([stream[: len(stream) // 2]], method))
    with pytest.raises(CompressionError):
        b"".join(decompress([b"\x00" * 64], method))


def test_method_comes_from_the_last_extension() -> None:
    assert method_of_file("snapshot.1a") == NONE
    assert method_of_file("snapshot.1a.gz") == GZIP
    assert method_of_file("snapshot.1a.SNAPPY") == SNAPPY
    assert method_of_file("snapshot.1a.gz.tmp") == NONE
    assert parse_method("lz4") == NONE


def test_cheap_validity_check() -> None:
    assert looks_valid(b"\x1f\x8b\x08", b"", GZIP)
    assert not looks_valid(b"PK", b"", GZIP)
    assert looks_valid(b"\x82SNAPPY\x00", b"", SNAPPY)
    assert looks_valid(b"ZKSN", b"\x00\x00\x00\x01/", NONE)
    assert not looks_valid(b"ZKSN", b"\x00\x00\x00\x01x", NONE)
