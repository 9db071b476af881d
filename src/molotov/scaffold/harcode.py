"""The ``loadtest.py`` that molostart writes from a HAR recording's :class:`~harplan.Plan`.

Generated code is laid out as ``ruff format`` lays it out (every call and dict exploded, one
item a line, with a trailing comma, so the layout does not depend on line lengths), and every
value of the recording goes through :mod:`molotov.scaffold.pysource`, so a file is valid, formatted
Python whatever the recording held. Comments only carry ``repr()`` of recorded text, which
has no line break.

Requests keep their default names (``METHOD path``, ids grouped), as in a test written by
hand: the same endpoint on several pages is one row of the per-request tables, which
``molotov.named`` around each request would only split. A recorded status check's message
names its request instead, for the error line of a step that failed.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from molotov.scaffold import pysource
from molotov.scaffold.harplan import MAIN_CONSTANT, Call, Link, Origin, Plan, Scenario

INDENT = "    "
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}  # session.<method>()
_PRINTABLE = "".join(map(chr, range(0x21, 0x7F)))  # what a message's path keeps as it is

DOCSTRING = '''\
"""A load test made by molostart from a HAR recording: one scenario per recorded page.

Run it with ``molotov --config molotov.json smoke`` (each page once), then ``... load``.
Requests go in their recorded order, without following redirects (the recording has each
hop); a step fails when a request that was recorded with a status below 400 gets 400 or
more, and its error says which request and what it answered. Environment variables, all
optional:

{variables}
"""'''

SETUP = '''\
@setup()
async def init_worker(worker_id: int, args: Namespace) -> dict[str, Any]:
    """Each worker's session: the cookies and credentials given in the environment."""
    env = os.environ
    return {
        "cookies": {name: env[var] for name, var in COOKIES.items() if var in env},
        "headers": {name: env[var] for name, var in HEADERS.items() if var in env},
        # unsafe=True: also keep the cookies of hosts named by their IP address.
        "cookie_jar": CookieJar(unsafe=True),
    }'''


def _value(value: str | Link) -> str:
    if isinstance(value, str):
        return pysource.string(value)
    if value.origin is None:
        return pysource.string(value.rest)
    return pysource.fstring(value.origin.constant, value.rest)


def _variables(plan: Plan) -> list[str]:
    lines = [f"- {MAIN_CONSTANT}: the recorded host, to replay the test against another one."]
    lines += [f"- {origin.constant}: another recorded host." for origin in plan.origins[1:]]
    secrets = [secret.variable for secret in plan.cookies + plan.credentials]
    if secrets:
        lines.append("- " + ", ".join(secrets) + ": cookies and credentials,")
        lines.append("  not copied from the recording: setup() sends those that are set.")
    return lines  # generated names and fixed text only: recorded text could end a docstring


def _secrets(name: str, secrets: tuple[tuple[str, str], ...]) -> list[str]:
    if not secrets:
        return [f"{name}: dict[str, str] = {{}}"]
    lines = [f"{name} = {{"]
    lines += [f"{INDENT}{pysource.string(key)}: {pysource.string(var)}," for key, var in secrets]
    return [*lines, "}"]


def _status_assert(call: Call, main: Origin) -> list[str]:
    """``assert resp.status < 400, f"GET /items answered {resp.status}"``: the failure says
    which request (method and path, after its origin's constant when it is not the recorded
    host's) and its status, so the step's error line names it. Laid out as ruff format lays
    it out: on one line when that fits its default length (the path percent-encoded to ASCII,
    so that characters are columns)."""
    url = urlsplit(call.url.rest)
    path = quote(url.path or "/", safe=_PRINTABLE)
    origin: list[str | pysource.Code] = []
    if call.url.origin is None:
        origin = [quote(f"{url.scheme}://{url.netloc}", safe=_PRINTABLE)]
    elif call.url.origin != main:
        origin = [pysource.Code(call.url.origin.constant)]
    message = pysource.fstring_of(
        f"{call.method} ", *origin, f"{path} answered ", pysource.Code("resp.status")
    )
    inner = INDENT * 2
    line = f"{inner}assert resp.status < 400, {message}"
    if len(line) <= pysource.LINE_LENGTH:
        return [line]
    return [f"{inner}assert resp.status < 400, (", f"{inner}{INDENT}{message}", f"{inner})"]


def _call(call: Call, main: Origin) -> list[str]:
    inner = INDENT * 2
    lines = []
    if call.pause:
        lines.append(f"{INDENT}await asyncio.sleep({pysource.number(call.pause)})")
    if call.method in METHODS:
        lines.append(f"{INDENT}async with session.{call.method.lower()}(")
    else:
        lines.append(f"{INDENT}async with session.request(")
        lines.append(f"{inner}{pysource.string(call.method)},")
    lines.append(f"{inner}{_value(call.url)},")
    if call.headers:
        lines.append(f"{inner}headers={{")
        lines += [
            f"{inner}{INDENT}{pysource.string(name)}: {_value(value)},"
            for name, value in call.headers
        ]
        lines.append(f"{inner}}},")
    if isinstance(call.body, bytes):
        lines.append(f"{inner}data={pysource.bytes_literal(call.body)},")
    elif call.body is not None:
        lines.append(f"{inner}data={pysource.string(call.body)},")
    lines.append(f"{inner}allow_redirects=False,")
    lines.append(f"{INDENT}) as resp:")
    lines.append(f"{inner}await resp.read()")
    if 0 < call.status < 400:
        lines += _status_assert(call, main)
    elif call.status:
        lines.append(f"{inner}# Recorded with status {call.status}: not checked.")
    else:
        lines.append(f"{inner}# Recorded without a response: not checked.")
    return lines


def _scenario(scenario: Scenario, total: int, main: Origin) -> list[str]:
    count = len(scenario.calls)
    options = "weight=1" + (f", delay={pysource.number(scenario.delay)}" if scenario.delay else "")
    lines = [
        f"# Page {scenario.number} of {total}: {count} request{'s' if count > 1 else ''}.",
        f"@scenario({options})",
        f"async def {scenario.name}(session: ClientSession) -> None:",
    ]
    for call in scenario.calls:
        lines += _call(call, main)
    return lines


def render(plan: Plan, source: str) -> str:
    """The generated module; ``source`` names the HAR file in a comment."""
    think = any(call.pause for scenario in plan.scenarios for call in scenario.calls)
    lines = [DOCSTRING.format(variables="\n".join(_variables(plan))), ""]
    lines += ["import asyncio"] if think else []
    lines += ["import os", "from argparse import Namespace", "from typing import Any", ""]
    # One block: in the project of the person who runs it, molotov is a third-party package.
    lines += ["from aiohttp import ClientSession, CookieJar", "from molotov import scenario, setup"]
    lines.append("")
    recorded = f"# Recorded in {source!r}" + (f" by {plan.creator!r}." if plan.creator else ".")
    lines.append(recorded)
    if plan.left_out:
        lines.append("# Left out of the recording (the molostart options bring some back):")
        lines += [f"#   {what}: {count}" for what, count in plan.left_out]
        lines += [f"#   host {host!r}" for host in plan.other_hosts]
    lines.append("")
    for origin in plan.origins:
        lines += pysource.environment_constant(origin.constant, origin.url)
    lines += ["", "# The environment variable of each cookie and header that setup() sends."]
    lines += _secrets("COOKIES", tuple((s.name, s.variable) for s in plan.cookies))
    lines += _secrets("HEADERS", tuple((s.name, s.variable) for s in plan.credentials))
    lines += ["", "", SETUP]
    for scenario in plan.scenarios:
        lines += ["", "", *_scenario(scenario, len(plan.scenarios), plan.origins[0])]
    return "\n".join(lines) + "\n"
