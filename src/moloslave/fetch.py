"""Check a repository address, then clone it with dulwich (no ``git`` binary, no shell).

The address is validated before anything runs: git's own transports have had options and
helpers (``--upload-pack=...``, ``ext::CMD``) that run commands, so only plain URLs of known
schemes, ``user@host:path`` SSH addresses and existing local directories get through.
"""

from __future__ import annotations

import re
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

SCHEMES = ("https", "http", "git", "ssh", "file")
CLONE_TIMEOUT = 60.0  # seconds the clone waits for each answer of the server
MAX_CLONE_TIMEOUT = 86400.0
# Characters a shell would act on, and quotes: no repository address needs them.
_SHELL_CHARS = set(";&|$`<>(){}!*?'\"\\")
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_HELPER = re.compile(r"^[A-Za-z0-9+.-]+::")  # git's TRANSPORT::ADDRESS remote helpers
_SCP = re.compile(r"^(?:([A-Za-z0-9._-]+)@)?([A-Za-z0-9._-]+):(.+)$")
_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
_REF = re.compile(r"^[A-Za-z0-9._/+@-]+$")
_COMMIT = re.compile(r"^[0-9a-fA-F]{4,40}$")


class FetchError(Exception):
    """A repository address or clone problem worth one readable line (exit code 1)."""


def _bad(repo: str, why: str) -> FetchError:
    return FetchError(f"Bad repository {repo!r}: {why}")


def _check_text(repo: str) -> None:
    if not repo:
        raise FetchError("No repository: give REPO or set TEST_REPO")
    if repo.startswith("-"):
        raise _bad(repo, "it must not start with '-'")
    if _HELPER.match(repo):
        raise _bad(repo, "remote helpers (TRANSPORT::ADDRESS, e.g. ext::) are not allowed")
    if any(char.isspace() or not char.isprintable() for char in repo):
        raise _bad(repo, "it must not contain whitespace or control characters")
    found = sorted(_SHELL_CHARS.intersection(repo))
    if found:
        raise _bad(repo, f"it must not contain {' '.join(found)}")


def _check_url(repo: str, scheme: str) -> str:
    if scheme.lower() not in SCHEMES:
        raise _bad(repo, f"unknown scheme {scheme!r} (use one of {', '.join(SCHEMES)})")
    try:
        parts = urlsplit(repo)
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError as exc:
        raise _bad(repo, str(exc)) from None
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise _bad(repo, "a file:// URL takes no host (file:///absolute/path)")
        return _check_local(repo, parts.path)
    host = parts.hostname or ""
    if host.startswith("-") or (parts.username or "").startswith("-"):
        raise _bad(repo, "a host or user name must not start with '-'")
    if not host or not _NAME.match(host.replace(":", "")):
        raise _bad(repo, "a host name is required")
    if not parts.path.strip("/"):
        raise _bad(repo, "a repository path is required")
    return repo


def _check_local(repo: str, path: str) -> str:
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise _bad(repo, "no such directory")
    # As a URL, so that dulwich never reads a ':' in the path as an SSH address.
    return "file://" + str(directory.resolve())


def check_repo(repo: str) -> str:
    """The address dulwich is given for ``repo``, or a :class:`FetchError` saying why not."""
    _check_text(repo)
    url = _URL.match(repo)
    if url:
        return _check_url(repo, url.group(1))
    if "://" in repo:
        raise _bad(repo, "not a URL")
    scp = _SCP.match(repo)
    if scp and "/" not in repo.split(":", 1)[0]:
        user, host, path = scp.groups()
        if host.startswith("-") or (user or "").startswith("-") or path.startswith("-"):
            raise _bad(repo, "a host, user or path must not start with '-'")
        return repo  # user@host:path, an SSH address as git reads it
    return _check_local(repo, repo)


def check_ref(ref: str) -> None:
    """A branch, tag or commit name: plain characters only, and no option look-alike."""
    if not ref or ref.startswith(("-", "/")) or ".." in ref or not _REF.match(ref):
        raise FetchError(f"Bad ref {ref!r}: expected a branch, tag or commit name")


@contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """Every socket opened meanwhile waits at most ``seconds`` for each answer.

    dulwich opens its own sockets (git://) and urllib3's (http, https) without a timeout of
    their own, so both take the default one: a server that accepts and never answers fails
    the clone instead of hanging it, and a slow clone that keeps receiving goes on.
    """
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _timed_out(exc: BaseException) -> bool:
    """Whether a socket timeout is behind ``exc`` (urllib3 and dulwich wrap it)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, TimeoutError):
            return True
        current = current.__cause__ or current.__context__
    return False


def _empty(directory: Path) -> None:
    """Remove what a failed attempt left in ``directory``, and keep the directory."""
    for entry in directory.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def clone(url: str, target: Path, ref: str | None, progress: BinaryIO, timeout: float) -> None:
    """Clone ``url`` into ``target`` (an empty directory) at ``ref``.

    A branch or tag (or the default branch) is cloned shallow; anything else is taken for a
    commit, which needs the full history to be found. A server silent for ``timeout``
    seconds fails the clone (see :func:`_socket_timeout`).
    """
    from dulwich import porcelain

    try:
        with _socket_timeout(timeout):
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
    except FetchError:
        raise
    except Exception as exc:
        if _timed_out(exc):
            raise FetchError(
                f"Can't clone {url!r}: the server did not answer within {timeout:g}s "
                "(--clone-timeout)"
            ) from None
        lines = str(exc).strip().splitlines()
        why = lines[0] if lines else type(exc).__name__
        raise FetchError(f"Can't clone {url!r}: {why}") from None


def _clone_at_commit(url: str, target: Path, ref: str, progress: BinaryIO) -> None:
    from dulwich import porcelain
    from dulwich.objectspec import parse_commit

    missing = FetchError(f"Can't find ref {ref!r} in {url!r}: not a branch, tag or commit")
    if not _COMMIT.match(ref):
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
