"""Writing an activated quorum configuration to disk, where a restart reads it.

Theory of operation
-------------------
With reconfigEnabled, ZooKeeper keeps the membership in a dynamic config file next to zoo.cfg:
`<zoo.cfg>.dynamic.<version in hex>` holds the sorted `server.N=spec` lines (no version line: the
name carries it), and zoo.cfg loses its `server.`, `group`, `weight`, `peerType` and
`dynamicConfigFile` keys (and `clientPort`/`clientPortAddress` when this server's line carries
its client address) and gains `dynamicConfigFile=<absolute path>`. Before the first such edit
the original is kept as `<zoo.cfg>.bak`. zkpy keeps the remaining zoo.cfg lines, comments
included, in the operator's order (ZooKeeper rewrites them in hash order). Each file is written
to a temporary name, fsynced and renamed over the old one, so a crash leaves the old or the new
file, never half of one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from zkpy.server.properties import read_properties
from zkpy.zab.quorum import QuorumMaj
from zkpy.zab.zxid import hex_long

_MEMBERSHIP_PREFIXES = ("server.", "group", "weight", "dynamicConfigFile", "peerType")
_CLIENT_PREFIXES = ("clientPort", "clientPortAddress")


def dynamic_config_path(config_path: Path, version: int) -> Path:
    return config_path.with_name(f"{config_path.name}.dynamic.{hex_long(version)}")


def dynamic_config_text(verifier: QuorumMaj) -> str:
    lines = sorted(f"server.{sid}={member.spec}" for sid, member in verifier.members.items())
    return "\n".join(lines)


def write_activated_config(config_path: Path, verifier: QuorumMaj, *, erase_client_address: bool) -> Path:
    """Write the dynamic file of `verifier` and point zoo.cfg at it; returns the dynamic file."""
    dynamic = dynamic_config_path(config_path, verifier.version).resolve()
    _write_atomically(dynamic, dynamic_config_text(verifier))
    static_text = config_path.read_text(encoding="utf-8", errors="replace")
    keys = {entry.key for entry in read_properties(static_text)}
    if "dynamicConfigFile" not in keys:
        shutil.copyfile(config_path, config_path.with_name(config_path.name + ".bak"))
    dropped = _MEMBERSHIP_PREFIXES + (_CLIENT_PREFIXES if erase_client_address else ())
    kept = [line for line in static_text.splitlines() if not _key_of(line).startswith(dropped)]
    kept.append(f"dynamicConfigFile={dynamic}")
    _write_atomically(config_path, "\n".join(kept) + "\n")
    return dynamic


def _key_of(line: str) -> str:
    """The key a zoo.cfg line sets ('' for blank lines and comments)."""
    stripped = line.lstrip(" \t\f")
    if not stripped or stripped[0] in "#!":
        return ""
    entries = read_properties(stripped)
    return entries[0].key if entries else ""


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
