"""The two durability primitives the data directory needs: fsync a file's data, fsync a directory.

A new or renamed file is durable only once its directory entry is: hence `fsync_dir` after
creating a log file or renaming a snapshot into place.
"""

from __future__ import annotations

import os
from pathlib import Path


def fdatasync(fd: int) -> None:
    """fdatasync where the platform has it (FileChannel.force(false)), fsync elsewhere."""
    getattr(os, "fdatasync", os.fsync)(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
