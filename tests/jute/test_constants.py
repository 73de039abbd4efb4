from __future__ import annotations

import pytest

from zkpy.jute.constants import CREATE_MODE_FLAGS, CreateMode, Err, OpCode


def test_named_ints_are_plain_ints_with_names_by_value() -> None:
    assert type(OpCode.setData) is int
    assert OpCode.name_of(5) == "setData"
    assert Err.name_of(-101) == "NONODE"
    assert OpCode.createSession in OpCode.values()


def test_a_value_without_a_name_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="99 is not a valid OpCode"):
        OpCode.name_of(99)


def test_every_create_mode_has_its_flags() -> None:
    assert set(CREATE_MODE_FLAGS) == CreateMode.values()
    assert CREATE_MODE_FLAGS[CreateMode.EPHEMERAL_SEQUENTIAL].ephemeral
    assert CREATE_MODE_FLAGS[CreateMode.EPHEMERAL_SEQUENTIAL].sequential
    assert CREATE_MODE_FLAGS[CreateMode.CONTAINER].container
    assert CREATE_MODE_FLAGS[CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL].ttl
    assert not CREATE_MODE_FLAGS[CreateMode.PERSISTENT].ephemeral
