from __future__ import annotations

import pytest

from zkpy.datatree.paths import InvalidPath, parent_chain, split_parent, validate_path


@pytest.mark.parametrize("path", ["/", "/a", "/a/b", "/a.b", "/..a", "/a/...", "/\u00e9t\u00e9", "/a b"])
def test_valid_paths(path: str) -> None:
    validate_path(path)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (None, "Path cannot be null"),
        ("", "Path length must be > 0"),
        ("a", "Path must start with / character"),
        ("/a/", "Path must not end with / character"),
        ("//a", "empty node name specified @1"),
        ("/a//b", "empty node name specified @3"),
        ("/a/./b", "relative paths not allowed @3"),
        ("/a/../b", "relative paths not allowed @4"),
        ("/..", "relative paths not allowed @2"),
        ("/.", "relative paths not allowed @1"),
        ("/a\u0000", "null character not allowed @2"),
        ("/a\u0001", "invalid character @2"),
        ("/a\u007f", "invalid character @2"),
        ("/a\ud800", "invalid character @2"),
        ("/a\ufff5", "invalid character @2"),
        ("/a\U0001f600", "invalid character @2"),
    ],
)
def test_invalid_paths_give_zookeepers_reason(path: str | None, reason: str) -> None:
    with pytest.raises(InvalidPath, match=reason.replace(".", r"\.")):
        validate_path(path)


def test_split_parent_and_chain() -> None:
    assert split_parent("/a") == ("/", "a")
    assert split_parent("/a/b/c") == ("/a/b", "c")
    assert parent_chain("/a/b/c") == ["/a/b", "/a", "/"]
    assert parent_chain("/") == []


from hypothesis import given, settings
from hypothesis import strategies as st

from zkpy.datatree.paths import check_path_rules

PATHISH = st.text(alphabet=st.sampled_from(list("/ab.\u0000\u0001\u007f\u00e9 /")), max_size=12)


@settings(max_examples=3000, deadline=None)
@given(PATHISH | st.text(max_size=12))
def test_fast_path_agrees_with_the_full_rules(path: str) -> None:
    def outcome(check):  # type: ignore[no-untyped-def]
        try:
            check(path)
        except InvalidPath as error:
            return str(error)
        return None

    assert outcome(validate_path) == outcome(check_path_rules)
