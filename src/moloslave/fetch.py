"""Check a repository address, then clone it with dulwich (no ``git`` binary, no shell).

The address is validated before anything runs: git's own transports have had options and
helpers (``--upload-pack=...``, ``ext::CMD``) that run commands, so only plain URLs of known
schemes, ``user@host:path`` SSH addresses and existing local directories get through. The
clone runs in a process of its own (:mod:`moloslave.clone`) under one deadline.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from moloslave.process import within

SCHEMES = ("https", "http", "git", "ssh", "file")
CLONE_TIMEOUT = 60.0  # seconds the whole clone may take
MAX_CLONE_TIMEOUT = 86400.0
# Characters a shell would act on, and quotes: no repository address needs them.
_SHELL_CHARS = set(";&|$`<>(){}!*?'\"\\")
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_HELPER = re.compile(r"^[A-Za-z0-9+.-]+::")  # git's TRANSPORT::ADDRESS remote helpers
_SCP = re.compile(r"^(?:([A-Za-z0-9._-]+)@)?([A-Za-z0-9._-]+):(.+)$")
_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
_REF = re.compile(r"^[A-Za-z0-9._/+@-]+$")


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


def clone(url: str, target: Path, ref: str | None, timeout: float) -> None:
    """Clone ``url`` into ``target`` (an empty directory) at ``ref``, in ``timeout`` seconds.

    The clone runs in a process of its own (:mod:`moloslave.clone`), ended at the deadline:
    ``--clone-timeout`` bounds the whole clone, retries and all.
    """
    args = [sys.executable, "-m", "moloslave.clone", f"{timeout!r}", url, str(target)]
    args += [ref] if ref else []
    try:
        code, err = within(args, timeout)
    except subprocess.TimeoutExpired:
        raise FetchError(
            f"Can't clone {url!r}: not done within {timeout:g}s (--clone-timeout)"
        ) from None
    if code != 0:
        lines = err.strip().splitlines()
        raise FetchError(lines[-1] if lines else f"Can't clone {url!r}: exit code {code}")
