"""``molostart --har``: HAR files (the committed recordings, and ones written here) become
load tests that the real ``molotov`` replays against tests/harsite.py, which confirms them.

tests/fixtures/chromium.har was recorded by headless Chromium (tests/fixtures/record_har.py);
firefox.har and mitmproxy.har are the same exchanges in those exporters' shapes.
"""

from __future__ import annotations

import ast
import base64
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import harsite
from molotov.scaffold import har, harpages, harplan
from startsupport import ruff, run_molostart, run_test

FIXTURES = Path(__file__).parent / "fixtures"
SHAPES = ["chromium.har", "firefox.har", "mitmproxy.har"]


@pytest.fixture(scope="module")
def site() -> Iterator[harsite.Site]:
    with harsite.serve() as running:
        yield running


@pytest.fixture
def fresh(site: harsite.Site) -> harsite.Site:
    site.take()
    return site


def recorded_hosts() -> tuple[str, str]:
    """(main, other) host:port of the committed recording."""
    entries = json.loads((FIXTURES / "chromium.har").read_text())["log"]["entries"]
    main = entries[0]["request"]["url"].split("/")[2]
    other = next(
        e["request"]["url"].split("/")[2] for e in entries if "/collect" in e["request"]["url"]
    )
    return main, other


def generate(tmp_path: Path, har_file: Path, *options: str, folder: str = "out") -> Path:
    result = run_molostart("--har", str(har_file), *options, folder, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path / folder


def requests_of(module: Path) -> list[tuple[str, Any]]:
    """(method, URL as written) of every request in a generated module."""
    source = module.read_text()
    return [
        (node.func.attr.upper(), ast.get_source_segment(source, node.args[0]))
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and ast.unparse(node.func.value) == "session"
    ]


def assert_messages(module: Path) -> list[str]:
    """The message of every ``assert`` of a generated module, as written."""
    source = module.read_text()
    return [
        ast.get_source_segment(source, node.msg) or ""
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Assert) and node.msg is not None
    ]


# -- the committed recordings -----------------------------------------------------------------


def test_the_recording_becomes_one_scenario_per_page(tmp_path: Path) -> None:
    result = run_molostart("--har", str(FIXTURES / "chromium.har"), "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    main, _ = recorded_hosts()
    assert f"2 scenarios (one per page), 5 requests to http://{main}" in result.stdout
    assert "static assets (--include-assets): 4" in result.stdout
    assert "requests to other hosts (--include-host): 1" in result.stdout
    assert f"cd {tmp_path / 'out'} && molotov --config molotov.json smoke" in result.stdout
    module = tmp_path / "out" / "loadtest.py"
    tree = ast.parse(module.read_text())
    scenarios = [n.name for n in tree.body if isinstance(n, ast.AsyncFunctionDef)]
    assert scenarios == ["init_worker", "page_1_home", "page_2_login"]
    assert requests_of(module) == [
        ("GET", 'f"{TARGET_URL}/"'),
        ("GET", 'f"{TARGET_URL}/api/items?limit=5&q=caf%C3%A9"'),
        ("POST", 'f"{TARGET_URL}/api/cart"'),
        ("POST", 'f"{TARGET_URL}/login"'),
        ("GET", 'f"{TARGET_URL}/products?sort=name"'),
    ]
    # Each status check says which request failed and with what (the query string aside).
    assert assert_messages(module) == [
        'f"GET / answered {resp.status}"',
        'f"GET /api/items answered {resp.status}"',
        'f"POST /api/cart answered {resp.status}"',
        'f"POST /login answered {resp.status}"',
        'f"GET /products answered {resp.status}"',
    ]
    assert "molotov.named" not in module.read_text()  # default names: METHOD path
    assert json.loads((tmp_path / "out" / "molotov.json").read_text())["molotov"][
        "tests"
    ].keys() == {
        "smoke",
        "load",
    }


@pytest.mark.parametrize("shape", SHAPES[1:])
def test_firefox_and_mitmproxy_shapes_give_the_same_load_test(tmp_path: Path, shape: str) -> None:
    """No _resourceType, other page ids or none, offsets, entries out of order: same code."""
    reference = generate(tmp_path, FIXTURES / "chromium.har", folder="chromium")
    variant = generate(tmp_path, FIXTURES / shape, folder="variant")

    def code(folder: Path) -> list[str]:  # all but the "Recorded in ... by ..." comment
        return [
            ln
            for ln in (folder / "loadtest.py").read_text().splitlines()
            if "Recorded in" not in ln
        ]

    assert code(variant) == code(reference)


@pytest.mark.parametrize("shape", SHAPES)
def test_generated_files_are_formatted_and_lint_clean(tmp_path: Path, shape: str) -> None:
    out = generate(tmp_path, FIXTURES / shape, "--include-host", "127.0.0.1", "--think-time")
    assert ruff("format", "--diff", "loadtest.py", cwd=out).returncode == 0
    checked = ruff("check", "loadtest.py", cwd=out)
    assert checked.returncode == 0, checked.stdout


def test_no_recorded_cookie_or_credential_reaches_the_file(tmp_path: Path) -> None:
    raw = (FIXTURES / "chromium.har").read_text()
    assert harsite.TOKEN in raw and "recorded-cookie-456" in raw
    text = (generate(tmp_path, FIXTURES / "chromium.har") / "loadtest.py").read_text()
    assert "recorded-token-123" not in text and "recorded-cookie-456" not in text
    assert '"session": "COOKIE_SESSION"' in text
    assert '"Authorization": "HEADER_AUTHORIZATION"' in text
    for noise in ("User-Agent", "sec-ch-ua", "Sec-Fetch", "Accept-Encoding", "Connection", "Host"):
        assert f'"{noise}' not in text
    assert '"Referer": f"{TARGET_URL}/"' in text and '"Origin": TARGET_URL' in text


def test_include_host_brings_the_other_host_back(tmp_path: Path) -> None:
    main, other = recorded_hosts()
    out = generate(tmp_path, FIXTURES / "chromium.har", "--include-host", other)
    constant = "HOST_" + other.replace(".", "_").replace(":", "_") + "_URL"
    text = (out / "loadtest.py").read_text()
    assigned = {
        node.targets[0].id: ast.literal_eval(node.value.args[1])  # type: ignore[attr-defined]
        for node in ast.parse(text).body
        if isinstance(node, ast.Assign) and ast.unparse(node.value).startswith("os.environ.get(")
    }
    assert assigned == {"TARGET_URL": f"http://{main}", constant: f"http://{other}"}
    assert ("POST", f'f"{{{constant}}}/collect?page=home"') in requests_of(out / "loadtest.py")
    # Its failure names the host by its constant, the replay's (a longer line: wrapped).
    assert f'f"POST {{{constant}}}/collect answered {{resp.status}}"' in assert_messages(
        out / "loadtest.py"
    )
    assert "assert resp.status < 400, (\n" in text
    assert f"- {constant}: another recorded host." in text
    assert "static assets" in text and "requests to other hosts" not in text


def test_include_assets_brings_the_assets_back(tmp_path: Path) -> None:
    out = generate(tmp_path, FIXTURES / "chromium.har", "--include-assets")
    urls = [url for _, url in requests_of(out / "loadtest.py")]
    assert urls.count('f"{TARGET_URL}/static/site.css"') == 2  # on both pages
    assert 'f"{TARGET_URL}/static/logo.png"' in urls and 'f"{TARGET_URL}/static/app.js"' in urls


def test_pages_are_cut_at_navigations_and_keep_redirects() -> None:
    """Playwright makes one page per tab: the plan cuts it at the login form's navigation."""
    recording = har.load(FIXTURES / "chromium.har")
    assert len(recording.pages) == 1
    pages = harpages.pages(recording)
    assert [p.navigation.url.split("/", 3)[3] for p in pages if p.navigation] == ["", "login"]
    assert [e.method for e in pages[1].entries if e.resource_type == "document"] == ["POST", "GET"]


# -- replays, confirmed by the server ----------------------------------------------------------


def test_the_recording_replays_against_the_recorded_site(
    tmp_path: Path, fresh: harsite.Site
) -> None:
    """Rewritten for the live site's ports, the committed recording replays as recorded."""
    main, other = recorded_hosts()
    text = (FIXTURES / "chromium.har").read_text()
    live = text.replace(main, fresh.url.split("/")[2]).replace(other, fresh.other_url.split("/")[2])
    (tmp_path / "live.har").write_text(live)
    out = generate(tmp_path, tmp_path / "live.har")
    result = run_test(out)
    assert result.returncode == 0, result.stdout + result.stderr
    hits = fresh.take()
    assert [h.request for h in hits] == [
        ("main", "GET", "/", (), b""),
        ("main", "GET", "/api/items", (("limit", "5"), ("q", "café")), b""),
        ("main", "POST", "/api/cart", (), b'{"item":42,"note":"say \\"hi\\""}'),
        ("main", "POST", "/login", (), b"user=ann&password=s3cret+%26+more"),
        ("main", "GET", "/products", (("sort", "name"),), b""),
    ]
    assert hits[3].headers["content-type"] == "application/x-www-form-urlencoded"
    assert hits[3].headers["cookie"] == "session=recorded-cookie-456"  # set by the replay of /
    assert "authorization" not in hits[1].headers
    assert hits[0].headers["user-agent"].startswith("Python/")  # aiohttp's, not Chrome's


def write_har(
    path: Path, entries: list[dict[str, Any]], pages: list[dict[str, Any]] | None = None
) -> Path:
    log: dict[str, Any] = {"version": "1.2", "creator": {"name": "tests", "version": "1"}}
    log.update(pages=pages or [], entries=entries)
    path.write_text(json.dumps({"log": log}))
    return path


def entry(
    method: str,
    url: str,
    at: float,
    *,
    headers: list[tuple[str, str]] | None = None,
    body: str | None = None,
    mime: str = "",
    status: int = 200,
    took: float = 10.0,
    **extra: Any,
) -> dict[str, Any]:
    started = datetime.fromtimestamp(1_800_000_000 + at, UTC).isoformat()
    request: dict[str, Any] = {
        "method": method,
        "url": url,
        "headers": [{"name": n, "value": v} for n, v in headers or []],
        "cookies": [],
    }
    if body is not None:
        request["postData"] = {"mimeType": mime, "text": body, **extra.pop("post", {})}
    response = {"status": status, "content": {"mimeType": "text/plain"}, "headers": []}
    return {
        "startedDateTime": started,
        "time": took,
        "request": request,
        "response": response,
        **extra,
    }


NASTY_BODY = (
    '{"quote": "\\"", "apostrophe": "it\'s", "triple": "\\"\\"\\"", "nl": "a\\nb", "u": "café €"}'
)


def test_recorded_text_of_any_kind_is_replayed_exactly(tmp_path: Path, fresh: harsite.Site) -> None:
    """Quotes, backslashes, braces, line breaks, docstring quotes, non-ASCII, binary."""
    base = fresh.url
    html = [("Accept", "text/html")]
    binary = bytes(range(256))
    entries = [
        entry("GET", f"{base}/echo/start", 0, headers=html),
        entry(
            "POST",
            f"{base}/echo/it's%22%7B%7D?a=%27%22&b=%7Bx%7D&c=%5C",
            1,
            headers=[("Content-Type", "application/json"), ("X-Trace", 'a"b\'c\\d{e}"""')],
            body=NASTY_BODY,
        ),
        entry("PUT", f"{base}/echo/text", 2, body='"""\nend\\', mime="text/plain"),
        entry(
            "PATCH",
            f"{base}/echo/bin",
            3,
            body=base64.b64encode(binary).decode(),
            mime="application/octet-stream",
            post={"encoding": "base64"},
        ),
        entry("PROPFIND", f"{base}/echo/dav", 4, body="<x/>", mime="text/xml"),
        entry("POST", f"{base}/echo/form", 5),
    ]
    entries[-1]["request"]["postData"] = {
        "mimeType": "application/x-www-form-urlencoded",
        "params": [{"name": "q", "value": "a b&c"}, {"name": "x", "value": "é"}],
    }
    out = generate(tmp_path, write_har(tmp_path / "nasty.har", entries))
    assert ruff("format", "--diff", "loadtest.py", cwd=out).returncode == 0
    result = run_test(out)
    assert result.returncode == 0, result.stdout + result.stderr
    hits = fresh.take()
    assert [(h.method, h.path, h.query, h.body) for h in hits] == [
        ("GET", "/echo/start", (), b""),
        ("POST", "/echo/it's\"{}", (("a", "'\""), ("b", "{x}"), ("c", "\\")), NASTY_BODY.encode()),
        ("PUT", "/echo/text", (), b'"""\nend\\'),
        ("PATCH", "/echo/bin", (), binary),
        ("PROPFIND", "/echo/dav", (), b"<x/>"),
        ("POST", "/echo/form", (), b"q=a+b%26c&x=%C3%A9"),
    ]
    assert hits[1].headers["x-trace"] == 'a"b\'c\\d{e}"""'
    assert hits[2].headers["content-type"] == "text/plain"


def test_a_failed_status_check_names_its_request(tmp_path: Path, fresh: harsite.Site) -> None:
    """The site answers 404 where the recording had 200: the step's error says which request
    (the recorded path: quotes and braces as they are, other characters percent-encoded)."""
    base = fresh.url
    entries = [
        entry("GET", f"{base}/echo/start", 0),
        entry("GET", f"{base}/echo/{'long-' * 12}", 1),  # too long a message for one line
        entry("GET", f"{base}/echo/gone-before", 2, status=404),  # recorded failing: unchecked
        entry("GET", f'{base}/gone/it\'s"{{x}}"/café?q=1', 3),
    ]
    out = generate(tmp_path, write_har(tmp_path / "gone.har", entries))
    assert ruff("format", "--diff", "loadtest.py", cwd=out).returncode == 0
    assert ruff("check", "loadtest.py", cwd=out).returncode == 0
    assert assert_messages(out / "loadtest.py") == [
        'f"GET /echo/start answered {resp.status}"',
        f'f"GET /echo/{"long-" * 12} answered {{resp.status}}"',
        "f'GET /gone/it\\'s\"{{x}}\"/caf%C3%A9 answered {resp.status}'",
    ]
    result = run_test(out)
    assert result.returncode == 99, result.stdout + result.stderr  # the threshold failed
    assert [h.request[2] for h in fresh.take()] == [
        "/echo/start",
        f"/echo/{'long-' * 12}",
        "/echo/gone-before",
        '/gone/it\'s"{x}"/café',
    ]
    assert 'AssertionError: GET /gone/it\'s"{x}"/caf%C3%A9 answered 404' in result.stdout


def sleeps(module: Path) -> tuple[list[float], list[float]]:
    """(asyncio.sleep() arguments, scenario delays) of a generated module."""
    tree = ast.parse(module.read_text())
    pauses = [
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "asyncio.sleep"
    ]
    delays = [
        keyword.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "scenario"
        for keyword in node.keywords
        if keyword.arg == "delay"
    ]
    return pauses, delays  # type: ignore[return-value]


def think_time_har(tmp_path: Path, base: str) -> Path:
    html = [("Accept", "text/html,*/*")]
    return write_har(
        tmp_path / "think.har",
        [
            entry("GET", f"{base}/echo/one", 0.0, headers=html, took=100),
            entry("GET", f"{base}/echo/api", 0.4, took=50),  # 0.3 s after /one ended
            entry("GET", f"{base}/echo/api", 0.455, took=50),  # 5 ms: the browser's own work
            entry("GET", f"{base}/echo/two", 0.705, headers=html, took=10),  # 0.2 s later
        ],
    )


def test_think_time_keeps_the_recorded_gaps(tmp_path: Path, fresh: harsite.Site) -> None:
    out = generate(tmp_path, think_time_har(tmp_path, fresh.url), "--think-time")
    assert sleeps(out / "loadtest.py") == ([0.3], [0.2])
    result = run_test(out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [h.path for h in fresh.take()] == ["/echo/one", "/echo/api", "/echo/api", "/echo/two"]


def test_without_think_time_nothing_sleeps(tmp_path: Path, fresh: harsite.Site) -> None:
    out = generate(tmp_path, think_time_har(tmp_path, fresh.url))
    assert sleeps(out / "loadtest.py") == ([], [])
    assert "import asyncio" not in (out / "loadtest.py").read_text()


def test_what_a_replay_cannot_or_must_not_repeat_is_left_out(tmp_path: Path) -> None:
    base = "http://app.example"
    entries = [
        entry(
            "GET", f"{base}/", 0, headers=[("Accept", "text/html"), (":authority", "app.example")]
        ),
        entry("OPTIONS", f"{base}/api", 1, headers=[("Access-Control-Request-Method", "PUT")]),
        entry("GET", "data:image/png;base64,AAAA", 2),
        entry("GET", "wss://app.example/socket", 3, _resourceType="websocket"),
        entry("GET", f"{base}/feed", 4, _resourceType="eventsource"),
        entry("GET", f"{base}/img/logo.svg", 5),
        entry("GET", "https://cdn.example:8443/lib.js", 6),
        entry("GET", "https://api.example/v1/me", 7, headers=[("X-CSRF-Token", "t0k3n")]),
        entry("GET", f"{base}/missing", 8, status=404),
    ]
    plan = harplan.plan(har.parse({"log": {"entries": entries}}, "test"), ["api.example"])
    assert [(c.method, c.url.origin.constant if c.url.origin else None, c.url.rest)
            for s in plan.scenarios for c in s.calls] == [
        ("GET", "TARGET_URL", "/"),
        ("GET", "API_EXAMPLE_URL", "/v1/me"),
        ("GET", "TARGET_URL", "/missing"),
    ]  # fmt: skip
    assert dict(plan.left_out) == {
        "static assets (--include-assets)": 1,
        "requests to other hosts (--include-host)": 1,
        "non-HTTP URLs": 1,
        "CORS preflights": 1,
        "WebSocket and event streams": 2,
    }
    assert plan.other_hosts == ("cdn.example:8443",)
    assert plan.scenarios[0].calls[0].headers == (("Accept", "text/html"),)
    assert [s.variable for s in plan.credentials] == ["HEADER_X_CSRF_TOKEN"]
    assert plan.scenarios[0].calls[2].status == 404


def test_a_recording_of_only_assets_has_nothing_to_replay(tmp_path: Path) -> None:
    har_file = write_har(tmp_path / "assets.har", [entry("GET", "http://a.example/x.css", 0)])
    result = run_molostart("--har", str(har_file), "out", cwd=tmp_path)
    assert result.returncode == 1
    assert (
        result.stderr
        == "nothing to replay, all was left out: static assets (--include-assets): 1\n"
    )
    assert not (tmp_path / "out").exists()


def test_include_host_that_names_no_recorded_host_is_an_error(tmp_path: Path) -> None:
    result = run_molostart(
        "--har", str(FIXTURES / "chromium.har"), "--include-host", "nope.example", cwd=tmp_path
    )
    assert result.returncode == 1
    assert result.stderr.startswith("--include-host 'nope.example': no request of the recording")
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "loadtest.py").exists()


# -- malformed recordings ----------------------------------------------------------------------

GOOD_ENTRY = {
    "startedDateTime": "2026-01-01T00:00:00Z",
    "request": {"method": "GET", "url": "http://a/"},
}


def with_entry(**changes: Any) -> bytes:
    broken = {**GOOD_ENTRY, **changes}
    return json.dumps({"log": {"entries": [GOOD_ENTRY, broken]}}).encode()


def with_request(**changes: Any) -> bytes:
    return with_entry(request={**GOOD_ENTRY["request"], **changes})


MALFORMED = {
    "not-json": (b"hello", "is not a HAR file: Expecting value (line 1, column 1)"),
    "not-utf8": (
        b'{"log": "\xff"}',
        "is not a HAR file: not UTF-8 text (invalid start byte at byte 9)",
    ),
    "too-deep": (b"[" * 100_000, "is not a HAR file: nested too deeply"),
    "a-list": (b"[]", "is not a HAR file: no 'log' object"),
    "no-entries": (b'{"log": {"version": "1.2"}}', "is not a HAR file: no 'log.entries' list"),
    "entries-object": (b'{"log": {"entries": {}}}', "is not a HAR file: no 'log.entries' list"),
    "entry-string": (b'{"log": {"entries": ["x"]}}', ": entry 1 must be an object"),
    "no-request": (with_entry(request=None), ": entry 2: no 'request' object"),
    "no-url": (with_request(url=None), ": entry 2: request: no 'url'"),
    "url-ipv6": (
        with_request(url="http://[::1/x"),
        ": entry 2: request: 'url' 'http://[::1/x' is not a URL",
    ),
    "url-number": (with_request(url=3), ": entry 2: request: 'url' must be a string, got 3"),
    "no-method": (with_request(method=None), ": entry 2: request: no 'method'"),
    "headers-dict": (
        with_request(headers={"a": "b"}),
        ": entry 2: request: 'headers' must be a list",
    ),
    "header-no-name": (
        with_request(headers=[{"value": "b"}]),
        ": entry 2: request: 'headers' must be a list",
    ),
    "no-time": (
        with_entry(startedDateTime=None),
        ": entry 2: 'startedDateTime' must be an ISO 8601 time, got None",
    ),
    "bad-time": (
        with_entry(startedDateTime="yesterday"),
        ": entry 2: 'startedDateTime' must be an ISO 8601 time",
    ),
    "bad-date": (
        with_entry(startedDateTime="2026-13-45T00:00:00Z"),
        ": entry 2: 'startedDateTime' is not a date",
    ),
    "bad-base64": (
        with_request(method="POST", postData={"mimeType": "x", "text": "!!", "encoding": "base64"}),
        ": entry 2: request: postData: 'text' is not valid base64",
    ),
    "pages-object": (b'{"log": {"pages": {}, "entries": []}}', ": 'log.pages' must be a list"),
    "empty": (b'{"log": {"entries": []}}', "the recording has no HTTP request"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_recording_is_one_line_and_exit_1(tmp_path: Path, case: str) -> None:
    content, message = MALFORMED[case]
    (tmp_path / "bad.har").write_bytes(content)
    result = run_molostart("--har", "bad.har", "out", cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
    assert message in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("path", ["missing.har", "."])
def test_an_unreadable_recording_is_one_line_and_exit_1(tmp_path: Path, path: str) -> None:
    result = run_molostart("--har", path, "out", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(f"Cannot read the HAR file {path!r}: ")
    assert len(result.stderr.splitlines()) == 1


def test_times_of_every_exporter_are_read() -> None:
    def started(text: str) -> float:
        document = {"log": {"entries": [{**GOOD_ENTRY, "startedDateTime": text}]}}
        return har.parse(document, "t").entries[0].started

    utc = datetime(2026, 1, 1, 10, 0, tzinfo=UTC).timestamp()
    assert started("2026-01-01T10:00:00.000Z") == utc  # Chrome, Playwright
    assert started("2026-01-01T11:00:00.000+01:00") == utc  # Firefox
    assert started("2026-01-01T10:00:00+00:00") == utc  # mitmproxy, whole seconds
    assert started("2026-01-01T10:00:00.25+0000") == pytest.approx(utc + 0.25)
    assert started("2026-01-01T04:30:00.123456789-05:30") == pytest.approx(utc + 0.123456789)


def test_an_utf8_bom_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "bom.har").write_bytes(
        b"\xef\xbb\xbf" + json.dumps({"log": {"entries": [GOOD_ENTRY]}}).encode()
    )
    assert len(har.load(tmp_path / "bom.har").entries) == 1


def test_counts_of_the_committed_recording() -> None:
    recording = har.load(FIXTURES / "chromium.har")
    kinds = Counter(entry.resource_type for entry in recording.entries)
    assert kinds["document"] == 3 and kinds["stylesheet"] == 2 and kinds["fetch"] == 3
