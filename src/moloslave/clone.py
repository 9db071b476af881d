"""The clone itself, in a process of its own: ``python -m moloslave.clone SECONDS URL TARGET
[REF]``.

:func:`moloslave.fetch.clone` runs this under one deadline, ``--clone-timeout``, and ends its
whole process group at the deadline: no socket timeout bounds a whole clone (dulwich's HTTP
client retries each request, and an ``ssh://`` clone runs a program of its own), a process
can be. The sockets wait SECONDS for each answer as well, so that a clone whose moloslave was
killed (its deadline gone with it) still ends. Exit code 0 once cloned; otherwise 1, and the
last line of stderr says why.
"""

from __future__ import annotations

import io
import re
import shutil
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from moloslave.fetch import FetchError

COMMIT = re.compile(r"^[0-9a-fA-F]{4,40}$")  # what a ref that is no branch or tag must be


def _empty(directory: Path) -> None:
    """Remove what a failed attempt left in ``directory``, and keep the directory."""
    for entry in directory.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def clone(url: str, target: Path, ref: str | None) -> None:
    """Clone ``url`` into ``target`` (an empty directory) at ``ref``.

    A branch or tag (or the default branch) is cloned shallow; anything else is taken for a
    commit, which needs the full history to be found.
    """
    from dulwich import porcelain

    progress = io.BytesIO()  # dulwich's progress: not worth a log
    try:
        porcelain.clone(url, str(target), depth=1, branch=ref, errstream=progress).close()
    except ValueError as exc:
        if ref is None or "not a valid branch or tag" not in str(exc):
            raise
        _empty(target)
        _clone_at_commit(url, target, ref, progress)
    except Exception as exc:
        if "shallow" not in str(exc):
            raise
        _empty(target)  # the server can't do depth: do without
        porcelain.clone(url, str(target), branch=ref, errstream=progress).close()


def _clone_at_commit(url: str, target: Path, ref: str, progress: io.BytesIO) -> None:
    from dulwich import porcelain
    from dulwich.objectspec import parse_commit

    missing = FetchError(f"Can't find ref {ref!r} in {url!r}: not a branch, tag or commit")
    if not COMMIT.match(ref):
        raise missing
    repo = porcelain.clone(url, str(target), errstream=progress)  # the default branch
    try:
        try:
            commit = parse_commit(repo, ref.encode("ascii"))
        except (KeyError, ValueError):
            raise missing from None
        porcelain.checkout(repo, commit.id, force=True)  # then what differs at the commit
    finally:
        repo.close()


def main(argv: Sequence[str]) -> int:
    seconds, url, target, *ref = argv
    # dulwich's git:// sockets and urllib3's take the default timeout.
    socket.setdefaulttimeout(float(seconds))
    try:
        clone(url, Path(target), ref[0] if ref else None)
    except FetchError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    except Exception as exc:  # dulwich raises many kinds: each is one line
        lines = str(exc).strip().splitlines()
        why = lines[0] if lines else type(exc).__name__
        sys.stderr.write(f"Can't clone {url!r}: {why}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
