"""A HAR recorded here by a real browser becomes a load test that replays what the browser did.

Headless Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright, never a downloaded
browser) browses tests/harsite.py with ``record_har_path``; ``molostart --har`` turns the HAR
into a load test; the real ``molotov`` runs its smoke test against the same servers, whose
logs confirm the replay: the same requests (method, path, query, body) as the browser made,
minus the assets and the other host unless asked for.

Without Chromium or Playwright the tests skip, with the reason; with
``MOLOTOV_REQUIRE_BROWSER=1`` (CI) they fail instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import browser
import harsite
from startsupport import run_molostart, run_test


@dataclass(frozen=True)
class Recorded:
    site: harsite.Site
    har: Path
    hits: list[harsite.Hit]  # what the servers saw of the browser


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    browser.require()
    folder = tmp_path_factory.mktemp("browser")
    with harsite.serve() as site:
        harsite.browse(site, folder / "recording.har")
        yield Recorded(site, folder / "recording.har", site.take())


def replay(tmp_path: Path, recorded: Recorded, *options: str, **env: str) -> list[harsite.Hit]:
    made = run_molostart("--har", str(recorded.har), *options, "out", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    recorded.site.take()
    result = run_test(tmp_path / "out", **env)
    assert result.returncode == 0, result.stdout + result.stderr
    return recorded.site.take()


def test_the_browser_did_what_the_test_expects(recorded: Recorded) -> None:
    """The recording holds every kind of request the other tests rely on."""
    seen = Counter((h.server, h.method, h.path) for h in recorded.hits)
    assert seen[("main", "GET", "/")] == 1
    assert seen[("main", "GET", "/static/site.css")] == 2  # both pages
    assert seen[("main", "POST", "/api/cart")] == seen[("main", "POST", "/login")] == 1
    assert seen[("other", "POST", "/collect")] == 1
    login = next(h for h in recorded.hits if h.path == "/login")
    assert login.headers["cookie"] == "session=recorded-cookie-456"
    items = next(h for h in recorded.hits if h.path == "/api/items")
    assert items.headers["authorization"] == harsite.TOKEN


def test_the_replay_repeats_the_pages_requests(tmp_path: Path, recorded: Recorded) -> None:
    hits = replay(tmp_path, recorded)
    expected = [h.request for h in recorded.hits if h.server == "main" and not h.is_asset]
    # The browser sent the page's API calls in parallel: compare them as a multiset, and the
    # pages in order.
    assert Counter(h.request for h in hits) == Counter(expected)
    assert [h.path for h in hits if h.path in ("/", "/login", "/products")] == [
        "/",
        "/login",
        "/products",
    ]
    login = next(h for h in hits if h.path == "/login")
    assert login.headers["cookie"] == "session=recorded-cookie-456"  # set again by the replay
    assert all("authorization" not in h.headers for h in hits)  # not copied from the HAR
    text = (tmp_path / "out" / "loadtest.py").read_text()
    assert "recorded-token-123" not in text and "recorded-cookie-456" not in text


def test_cookies_and_credentials_come_from_the_environment(
    tmp_path: Path, recorded: Recorded
) -> None:
    hits = replay(
        tmp_path, recorded, COOKIE_SESSION="from-env", HEADER_AUTHORIZATION="Bearer from-env"
    )
    assert hits[0].path == "/" and hits[0].headers["cookie"] == "session=from-env"
    assert {h.headers.get("authorization") for h in hits} == {"Bearer from-env"}


def test_assets_and_the_other_host_come_back_when_asked(tmp_path: Path, recorded: Recorded) -> None:
    other = recorded.site.other_url.split("//", 1)[1]
    hits = replay(tmp_path, recorded, "--include-host", other, "--include-assets")
    assert Counter(h.request for h in hits) == Counter(h.request for h in recorded.hits)
