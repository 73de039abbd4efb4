"""File names of the data directory: `log.<hex zxid>` and `snapshot.<hex zxid>[.gz|.snappy]`.

Theory of operation (ZooKeeper's persistence/Util.java): a file's zxid is its second dot-separated
name component read as hex; a name that does not parse has zxid -1 and sorts first. A log file is
named after the zxid of its first txn and holds every later txn until the next roll, so the txns
after a snapshot at zxid Z start in the newest log whose name is <= Z (FileTxnLog.getLogFiles).
Both live under a `version-2` directory inside dataDir / dataLogDir.
"""

from __future__ import annotations

import re

VERSION_DIR = "version-2"
LOG_PREFIX = "log"
SNAPSHOT_PREFIX = "snapshot"

_HEX = re.compile(r"[+-]?[0-9a-fA-F]+")
_LONG_MIN = -(1 << 63)
_LONG_MAX = (1 << 63) - 1
_ULONG_MASK = (1 << 64) - 1


def hex_zxid(zxid: int) -> str:
    """Long.toHexString: lower-case hex of the unsigned 64-bit value."""
    return format(zxid & _ULONG_MASK, "x")


def make_log_name(zxid: int) -> str:
    return f"{LOG_PREFIX}.{hex_zxid(zxid)}"


def make_snapshot_name(zxid: int, extension: str = "") -> str:
    """`extension` is the compression suffix without its dot ('', 'gz' or 'snappy')."""
    suffix = f".{extension}" if extension else ""
    return f"{SNAPSHOT_PREFIX}.{hex_zxid(zxid)}{suffix}"


def zxid_from_name(name: str, prefix: str) -> int:
    """Util.getZxidFromName: the hex zxid in `prefix.<hex>[...]`, or -1."""
    parts = name.split(".")
    if len(parts) < 2 or parts[0] != prefix or not _HEX.fullmatch(parts[1]):
        return -1
    value = int(parts[1], 16)
    if not _LONG_MIN <= value <= _LONG_MAX:
        return -1
    return value


def sort_data_dir(names: list[str], prefix: str, ascending: bool = True) -> list[str]:
    """Util.sortDataDir: a stable sort by the zxid in the name."""
    return sorted(names, key=lambda n: zxid_from_name(n, prefix), reverse=not ascending)


def log_files_from(names: list[str], zxid: int) -> list[str]:
    """FileTxnLog.getLogFiles: the log that may hold `zxid` and every newer one, ascending.

    That is the newest log whose name is <= zxid (where the txns after a snapshot at zxid start)
    and all logs after it. Names that are not log files are dropped.
    """
    logs = sort_data_dir([n for n in names if zxid_from_name(n, LOG_PREFIX) >= 0], LOG_PREFIX)
    start = 0
    for name in logs:
        name_zxid = zxid_from_name(name, LOG_PREFIX)
        if name_zxid > zxid:
            break
        start = max(start, name_zxid)
    return [n for n in logs if zxid_from_name(n, LOG_PREFIX) >= start]
