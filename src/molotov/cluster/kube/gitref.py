"""``--repo URL --ref REF``: the ref pinned to one commit, so that every pod runs the same code.

The coordinator asks the repository for its refs (dulwich's ls-remote, as moloslave fetches;
the address is checked by moloslave's own rules first) and takes the commit that REF names:
a branch, a tag (peeled to its commit), HEAD when no REF is given, or a commit id as is.
"""

from __future__ import annotations

import re
from typing import Any

_COMMIT = re.compile(r"^[0-9a-f]{40}$")


class RefError(Exception):
    """The repository or its ref can't be resolved: one line."""


def _refs(url: str) -> dict[bytes, bytes]:
    from dulwich import porcelain

    found = porcelain.ls_remote(url)
    refs: Any = getattr(found, "refs", found)  # dulwich >= 0.23 returns an LsRemoteResult
    return {key: value for key, value in dict(refs).items() if value is not None}


def resolve(repo: str, ref: str | None) -> tuple[str, str]:
    """(the URL the pods clone, the commit id ``ref`` names there)."""
    from moloslave import fetch

    try:
        url = fetch.check_repo(repo)
        if ref is not None:
            fetch.check_ref(ref)
    except fetch.FetchError as exc:
        raise RefError(str(exc)) from None
    if ref is not None and _COMMIT.match(ref.lower()):
        return url, ref.lower()
    try:
        refs = _refs(url)
    except Exception as exc:  # dulwich raises many kinds: each is one line here
        raise RefError(f"Can't list the refs of {repo!r}: {exc}") from None
    names = (
        [b"HEAD"]
        if ref is None
        else [
            f"refs/tags/{ref}^{{}}".encode(),
            f"refs/tags/{ref}".encode(),
            f"refs/heads/{ref}".encode(),
            ref.encode(),
        ]
    )
    for name in names:
        if name in refs:
            return url, refs[name].decode("ascii")
    raise RefError(f"Can't find ref {ref or 'HEAD'!r} in {repo!r}: not a branch or a tag")
