"""Writing a report file atomically: a reader sees the old file or the whole new one.

The text goes to a temp file in the target's folder (so the rename stays on one file
system), is flushed to disk, then renamed over the target. A run stopped by Ctrl-C or a
failure half-way never leaves a truncated report behind, nor a temp file.

A symbolic link is written through: the temp file goes beside the file it points to (which
may not exist yet), that file is replaced, and the link stays. A stream (``/dev/stdout``, a
FIFO, a device: see :func:`is_stream`) is appended to, never replaced.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def is_stream(path: str | Path) -> bool:
    """Whether ``path`` is a stream to write into rather than a file to replace.

    ``/dev/stdout``, ``/dev/stderr``, ``/proc/self/fd/N``, a FIFO, a device: replacing one
    would, as root, put a regular file where the device was (or fail); even when the
    descriptor behind ``/dev/stdout`` is a regular file (``> out.txt``), the report belongs
    after what was written there.
    """
    given = Path(os.path.abspath(path))
    if given.parts[1:2] in (("dev",), ("proc",)):
        return True
    return os.path.exists(path) and not os.path.isfile(path)


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically, creating its folder if needed."""
    if is_stream(path):
        sys.stdout.flush()  # what this process printed there comes first
        with open(path, "a", encoding="utf-8", newline="") as stream:
            stream.write(text)
        return
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    umask = os.umask(0)
    os.umask(umask)
    try:
        # mkstemp makes the file private; a report is an ordinary file, as open() would make.
        os.chmod(temp, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
