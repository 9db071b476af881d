"""Writing a report file atomically: a reader sees the old file or the whole new one.

The text goes to a temp file in the target's folder (so the rename stays on one file
system), is flushed to disk, then renamed over the target. A run stopped by Ctrl-C or a
failure half-way never leaves a truncated report behind, nor a temp file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically, creating its folder if needed."""
    target = Path(path)
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
