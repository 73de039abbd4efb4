"""Znode path rules, identical to ZooKeeper's PathUtils.validatePath.

Java checks UTF-16 code units, so a character outside the BMP (a surrogate pair in Java) is
invalid there; the ranges below reject such characters the same way.
"""

from __future__ import annotations


class InvalidPath(ValueError):
    pass


def _invalid_char(code: int) -> bool:
    return (
        0 < code <= 0x1F
        or 0x7F <= code <= 0x9F
        or 0xD800 <= code <= 0xF8FF
        or 0xFFF0 <= code
    )


def validate_path(path: str | None) -> None:
    """Raises InvalidPath with ZooKeeper's reason when `path` is not a valid znode path."""
    if (
        path
        and path[0] == "/"
        and path.isascii()
        and path.isprintable()
        and "//" not in path
        and "/." not in path
        and (len(path) == 1 or path[-1] != "/")
    ):
        # The common case, settled by C-level checks: printable ASCII has none of the invalid
        # characters, and without "//", "/." or a trailing "/" none of the rules can fail.
        return
    check_path_rules(path)


def check_path_rules(path: str | None) -> None:
    """PathUtils.validatePath rule by rule (validate_path's slow path)."""
    if path is None:
        raise InvalidPath("Path cannot be null")
    length = len(path)
    if length == 0:
        raise InvalidPath("Path length must be > 0")
    if path[0] != "/":
        raise InvalidPath("Path must start with / character")
    if length == 1:
        return
    if path[-1] == "/":
        raise InvalidPath("Path must not end with / character")
    last = "/"
    for i in range(1, length):
        c = path[i]
        code = ord(c)
        if code == 0:
            raise InvalidPath(f"null character not allowed @{i}")
        if c == "/" and last == "/":
            raise InvalidPath(f"empty node name specified @{i}")
        if c == "." and last == "." and path[i - 2] == "/" and (i + 1 == length or path[i + 1] == "/"):
            raise InvalidPath(f"relative paths not allowed @{i}")
        if c == "." and path[i - 1] == "/" and (i + 1 == length or path[i + 1] == "/"):
            raise InvalidPath(f"relative paths not allowed @{i}")
        if _invalid_char(code):
            raise InvalidPath(f"invalid character @{i}")
        last = c


def is_valid_path(path: str | None) -> bool:
    try:
        validate_path(path)
    except InvalidPath:
        return False
    return True


def split_parent(path: str) -> tuple[str, str]:
    """('/a/b', 'c') for '/a/b/c'; the root's children have parent '/'."""
    slash = path.rfind("/")
    parent = path[:slash] or "/"
    return parent, path[slash + 1 :]


def parent_chain(path: str) -> list[str]:
    """The ancestors of `path`, nearest first, ending with '/'."""
    chain = []
    while path != "/":
        path = path[: path.rfind("/")] or "/"
        chain.append(path)
    return chain
