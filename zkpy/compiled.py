"""Loads Cython-compiled builds of zkpy's hot-path modules, and only for the exact source compiled.

Theory of operation: `zkpy.build_compiled` compiles each module in `COMPILED_MODULES` into a
cache inside the virtualenv (`sys.prefix`/zkpy-compiled, which ties a build to the interpreter),
never next to the sources. Each file is named `<dotted.name>.<key><EXTENSION_SUFFIX>`, where the
key is a hash of the module's .py bytes and a salt (the Cython version and compiler directives)
that the build stores in `KEY_SALT` beside them. `CompiledFinder` sits at the front of
`sys.meta_path` (installed by `zkpy/__init__.py`); when a listed module is imported it finds the
.py through the parent package's `__path__`, hashes it as it is now, and answers with the cached
extension only if a file for exactly that key exists. Otherwise it answers nothing and the normal
pure-Python import follows, so an edited file runs as written until the next build compiles it:
no compiled code can outlive the source it came from. A Cython extension can be loaded from any
file name because its init symbol comes from the last component of the module name.

An extension file next to a listed .py (a stray `cythonize -i`) would shadow the source for the
normal import, so the finder then loads the .py explicitly and warns once. `ZKPY_PURE_PYTHON=1`
disables the finder altogether. This module needs nothing beyond the standard library.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import ModuleType

# One line per module; the build compiles and the finder loads exactly these.
COMPILED_MODULES: tuple[str, ...] = (
    "zkpy.jute.codec",
    "zkpy.jute.records",
    "zkpy.datatree.tree",
    "zkpy.datatree.paths",
    "zkpy.datatree.digest",
    "zkpy.datatree.acl",
    "zkpy.datatree.watches",
    "zkpy.server.zkserver",
    "zkpy.server.prep",
    "zkpy.server.requests",
    "zkpy.server.replies",
    "zkpy.server.sessions",
    "zkpy.server.stats",
    "zkpy.server.metrics",
    "zkpy.persistence.txnlog",
    "zkpy.persistence.txnlog_files",
    "zkpy.persistence.snapshot",
    "zkpy.persistence.snapstream",
    "zkpy.zab.leader",
    "zkpy.zab.learner",
    "zkpy.zab.committed_log",
    "zkpy.zab.packets",
    "zkpy.server.runtime.client_port",
)

PURE_PYTHON_ENV = "ZKPY_PURE_PYTHON"
CACHE_DIR_NAME = "zkpy-compiled"
KEY_SALT_FILE = "KEY_SALT"
KEY_HEX_CHARS = 16
EXTENSION_SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def default_cache_dir() -> Path:
    return Path(sys.prefix) / CACHE_DIR_NAME


def pure_python_requested(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get(PURE_PYTHON_ENV, "") == "1"


def source_key(source: bytes, salt: bytes) -> str:
    digest = hashlib.sha256()
    # Length-prefixed so no (source, salt) pair can collide with another by shifting bytes.
    digest.update(len(source).to_bytes(8, "big"))
    digest.update(source)
    digest.update(salt)
    return digest.hexdigest()[:KEY_HEX_CHARS]


def compiled_file_name(fullname: str, key: str) -> str:
    return f"{fullname}.{key}{EXTENSION_SUFFIX}"


def read_key_salt(cache_dir: Path) -> bytes | None:
    try:
        return (cache_dir / KEY_SALT_FILE).read_bytes()
    except OSError:
        return None


def find_source(fullname: str, search_path: Iterable[str]) -> Path | None:
    """The .py of `fullname` in its parent package's `__path__`, or None."""
    file_name = fullname.rpartition(".")[2] + ".py"
    for entry in search_path:
        candidate = Path(entry) / file_name
        if candidate.is_file():
            return candidate
    return None


def in_tree_extensions(source: Path) -> list[Path]:
    """Extension modules beside `source` that the normal import would prefer to it."""
    stem = source.with_suffix("")
    return [Path(f"{stem}{suffix}") for suffix in importlib.machinery.EXTENSION_SUFFIXES
            if os.path.isfile(f"{stem}{suffix}")]


class CompiledFinder(importlib.abc.MetaPathFinder):
    def __init__(self, cache_dir: Path, module_names: Iterable[str] = COMPILED_MODULES) -> None:
        self.cache_dir = cache_dir
        self.module_names = frozenset(module_names)
        # Read once: a build that changes it also compiles under it, and a process that kept
        # the old salt only finds files built by the old Cython for the current source.
        self.salt = read_key_salt(cache_dir)
        self._warned: set[Path] = set()

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.module_names or path is None:
            return None
        source = find_source(fullname, path)
        if source is None:
            return None
        compiled = self.compiled_path(fullname, source)
        if compiled is not None:
            loader = importlib.machinery.ExtensionFileLoader(fullname, str(compiled))
            return importlib.util.spec_from_file_location(fullname, compiled, loader=loader)
        shadows = in_tree_extensions(source)
        if shadows:
            self._warn_shadowed(source, shadows)
            return importlib.util.spec_from_file_location(fullname, source)
        return None

    def compiled_path(self, fullname: str, source: Path) -> Path | None:
        """The cached build of `source` as it is now, or None if there is none."""
        if self.salt is None:
            return None
        try:
            source_bytes = source.read_bytes()
        except OSError:
            return None
        key = source_key(source_bytes, self.salt)
        candidate = self.cache_dir / compiled_file_name(fullname, key)
        return candidate if candidate.is_file() else None

    def _warn_shadowed(self, source: Path, shadows: list[Path]) -> None:
        if source in self._warned:
            return
        self._warned.add(source)
        warnings.warn(f"zkpy: ignoring {', '.join(map(str, shadows))}, which would shadow {source};"
                      " delete it (compiled builds live in the virtualenv, see zkpy/compiled.py)",
                      RuntimeWarning)


def install(environ: Mapping[str, str] = os.environ,
            cache_dir: Path | None = None) -> CompiledFinder | None:
    """Puts a `CompiledFinder` first on `sys.meta_path`, unless ZKPY_PURE_PYTHON=1; idempotent."""
    if pure_python_requested(environ):
        return None
    for finder in sys.meta_path:
        if isinstance(finder, CompiledFinder):
            return finder
    finder = CompiledFinder(cache_dir or default_cache_dir())
    sys.meta_path.insert(0, finder)
    return finder


def is_compiled(module: ModuleType) -> bool:
    spec = getattr(module, "__spec__", None)
    return spec is not None and isinstance(spec.loader, importlib.machinery.ExtensionFileLoader)


def loaded_compiled() -> list[str]:
    """The listed modules that this process has imported from a compiled build."""
    return [name for name in COMPILED_MODULES
            if name in sys.modules and is_compiled(sys.modules[name])]


def compiled_summary() -> str:
    """`N/M`: N of the M listed modules run compiled here (an unimported one counts as not)."""
    return f"{len(loaded_compiled())}/{len(COMPILED_MODULES)}"
