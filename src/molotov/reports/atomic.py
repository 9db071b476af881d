"""Writing a report file atomically: a reader sees the old file or the whole new one.

The text goes to a temp file in the target's folder (so the rename stays on one file
system), is flushed to disk, then renamed over the target. A run stopped by Ctrl-C or a
failure half-way never leaves a truncated report behind, nor a temp file.

A symbolic link is written through: the temp file goes beside the file it points to (which
may not exist yet), that file is replaced, and the link stays. A stream (``/dev/stdout``, a
FIFO, a device: see :func:`is_stream`) is appended to, never replaced, and never created: a
new file in ``/dev`` or ``/proc`` is refused (``--csv /dev/full`` means no
``/dev/full_stats.csv``). :func:`unwritable` says, before a run, why a path could not be
written, without writing anything.
"""

from __future__ import annotations

import errno
import os
import sys
import tempfile
from pathlib import Path

_STREAM_FOLDERS = (("dev",), ("proc",))  # the first parts of an absolute path


def is_stream(path: str | Path) -> bool:
    """Whether ``path`` is a stream to write into rather than a file to replace.

    A FIFO, a device or a socket; and a link under ``/dev`` or ``/proc`` (``/dev/stdout``,
    ``/dev/stderr``, ``/proc/self/fd/N``) even when the descriptor behind it is a regular file
    (``> out.txt``): the report belongs after what was written there. Replacing a device would,
    as root, put a regular file where the device was (or fail).
    """
    given = os.path.abspath(path)
    if Path(given).parts[1:2] in _STREAM_FOLDERS and os.path.islink(given):
        return os.path.exists(given)
    return os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path)


def _no_new_file(target: Path) -> bool:
    """A file that does not exist in ``/dev`` itself or under ``/proc``: a device's name
    mistyped, or a prefix of one, never a place for a report."""
    if target.exists():
        return False
    return target.parent == Path("/dev") or Path("/proc") in target.parents


_NO_NEW_FILE = "no such device (molotov creates no file in /dev or /proc)"


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically, creating its folder if needed."""
    if is_stream(path):
        sys.stdout.flush()  # what this process printed there comes first
        with open(path, "a", encoding="utf-8", newline="") as stream:
            stream.write(text)
        return
    target = Path(os.path.realpath(path))
    if _no_new_file(target):
        raise FileNotFoundError(errno.ENOENT, _NO_NEW_FILE, str(path))
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


def unwritable(path: str | Path) -> str | None:
    """Why :func:`write_text` could not write ``path``, found without writing anything (not
    even the folders it would make); None when nothing says so (a full disk shows only when
    written)."""
    if is_stream(path):
        return None if os.access(path, os.W_OK) else "not writable"
    if os.path.isdir(path):
        return "it is a folder (name a file in it)"
    target = Path(os.path.realpath(path))
    if _no_new_file(target):
        return _NO_NEW_FILE
    folder = target.parent  # the first folder that exists is where the missing ones are made
    while not os.path.lexists(folder):
        folder = folder.parent
    if not folder.is_dir():
        return f"{str(folder)!r} is a file, not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return f"{str(folder)!r} is on a read-only file system"
        return f"no permission to write in {str(folder)!r}"
    return None
