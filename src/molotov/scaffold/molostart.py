"""``molostart``: start a load test, from a scaffold or from a browser's HAR recording.

``molostart [DIR]`` writes ``loadtest.py`` (the commented template in ``templates/``, with the
target URL filled in) and a ``molotov.json`` with a ``smoke`` and a ``load`` test, then says
how to run them. It asks for the target URL only on a terminal (as Molotov 2.x's did); piped,
in CI, or with ``--target``, it asks nothing. ``molostart --har FILE [DIR]`` writes the
``loadtest.py`` from the recording instead (see :mod:`molotov.scaffold.harplan` for what is kept).

Existing files are never overwritten without ``--force``: both are checked before either is
written. Bad input is one line on stderr and exit code 1; a bad option, exit code 2.
"""

from __future__ import annotations

import json
import shlex
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from molotov._version import __version__
from molotov.config.runconfig import DEFAULT_SCENARIO
from molotov.scaffold import har, harcode, harplan
from molotov.scaffold.pysource import environment_constant

CONFIG = "molotov.json"
DEFAULT_TARGET = "http://localhost:8080"
# The template's line that the target URL replaces.
TARGET_LINE = f'TARGET_URL = os.environ.get("TARGET_URL", "{DEFAULT_TARGET}")'

# smoke: every scenario once, failing on any failure; load: a first real load.
TESTS = {
    "smoke": {"scenario": DEFAULT_SCENARIO, "single_run": True, "threshold": ["failures<1"]},
    "load": {
        "scenario": DEFAULT_SCENARIO,
        "workers": 10,
        "ramp_up": 10,
        "duration": "1m",
        "threshold": ["failure_rate<1%"],
    },
}

app = typer.Typer(
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)


class StartError(Exception):
    """Something that stops molostart before it writes anything (one line, exit code 1)."""


def _version(value: bool) -> None:
    if value:
        print(__version__)
        raise typer.Exit(0)


def check_target(value: str) -> str:
    """An ``http(s)://host[:port][/path]`` URL, without its trailing slash."""
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 (it raises on a port out of range)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise typer.BadParameter(f"{value!r} is not an http:// or https:// URL with a host")
    if parts.query or parts.fragment:
        raise typer.BadParameter(f"{value!r}: a target URL has no query or fragment")
    return value.strip().rstrip("/")


def _target(value: str | None) -> str | None:
    return None if value is None else check_target(value)


def scaffold(target: str) -> str:
    """The scaffold's ``loadtest.py`` for ``target``."""
    template = (resources.files("molotov.scaffold") / "templates" / "loadtest.py").read_text(
        "utf-8"
    )
    assert TARGET_LINE in template, "the template lost its target line"
    return template.replace(TARGET_LINE, "\n".join(environment_constant("TARGET_URL", target)))


def config_text() -> str:
    return json.dumps({"molotov": {"tests": TESTS}}, indent=4) + "\n"


def _from_har(
    path: Path, include_hosts: list[str], include_assets: bool, think_time: bool
) -> tuple[str, str]:
    """The load test of a recording, and a line that says what it replays."""
    try:
        plan = harplan.plan(har.load(path), include_hosts, include_assets, think_time)
    except (har.HarError, harplan.PlanError) as exc:
        raise StartError(str(exc)) from None
    count = len(plan.scenarios)
    summary = (
        f"{count} scenario{'s' if count > 1 else ''} (one per page), {plan.requests} "
        f"request{'s' if plan.requests > 1 else ''} to {plan.origins[0].url}"
    )
    if plan.left_out:
        summary += "; left out: " + ", ".join(f"{what}: {n}" for what, n in plan.left_out)
    return harcode.render(plan, path.name), summary


def _write(folder: Path, files: dict[str, str], force: bool) -> None:
    for name in files:
        # A dangling link counts as there: writing would create the file it points to.
        if ((folder / name).exists() or (folder / name).is_symlink()) and not force:
            raise StartError(f"{str(folder / name)!r} already exists (--force overwrites it)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise StartError(f"Cannot write in {str(folder)!r}: {exc.strerror or exc}") from None


def _command(folder: Path, test: str) -> str:
    """How to run ``test``, typed anywhere: from the folder itself, by its absolute path.

    ``molotov --config DIR/molotov.json`` would not do: a relative ``scenario`` is looked up in
    the working directory first (as Molotov 2.x did), so a folder that has a ``loadtest.py`` of
    its own would silently run that one.
    """
    run = f"molotov --config {CONFIG} {test}"
    return run if folder == Path() else f"cd {shlex.quote(str(folder.resolve()))} && {run}"


@app.command(help="Write a load test (loadtest.py and molotov.json) in DIR, or from a HAR file.")
def molostart(
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="Where to write the files (made if missing).")
    ] = Path(),
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            metavar="URL",
            callback=_target,
            help=f"The URL to test (asked on a terminal; default {DEFAULT_TARGET}).",
        ),
    ] = None,
    har_file: Annotated[
        Path | None,
        typer.Option(
            "--har", metavar="FILE", help="Write the load test from this HAR recording instead."
        ),
    ] = None,
    include_host: Annotated[
        list[str] | None,
        typer.Option(
            "--include-host",
            metavar="HOST",
            help="With --har: replay this HOST or HOST:PORT too (repeatable).",
        ),
    ] = None,
    include_assets: Annotated[
        bool,
        typer.Option("--include-assets", help="With --har: replay static assets too."),
    ] = False,
    think_time: Annotated[
        bool,
        typer.Option("--think-time", help="With --har: sleep the recorded gaps between requests."),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
) -> None:
    if har_file is None and (include_host or include_assets or think_time):
        raise typer.BadParameter("--include-host, --include-assets and --think-time need --har")
    if har_file is not None and target is not None:
        raise typer.BadParameter(
            "--target is for the scaffold: a HAR load test targets its recorded host "
            "(set TARGET_URL to run it elsewhere)"
        )
    try:
        if har_file is not None:
            source, summary = _from_har(har_file, include_host or [], include_assets, think_time)
            about = f"From {str(har_file)!r}: {summary}."
        else:
            if target is None and sys.stdin.isatty():
                target = typer.prompt("Target URL", default=DEFAULT_TARGET, value_proc=check_target)
            target = target or DEFAULT_TARGET
            source = scaffold(target)
            about = f"Target: {target} (TARGET_URL overrides it)."
        _write(directory, {DEFAULT_SCENARIO: source, CONFIG: config_text()}, force)
    except StartError as exc:
        sys.stderr.write(f"{exc}\n")
        raise typer.Exit(1) from None
    where = "" if directory == Path() else f" in {str(directory)!r}"
    print(f"Wrote {DEFAULT_SCENARIO} and {CONFIG}{where}.")
    print(about)
    print(f"Run it once:      {_command(directory, 'smoke')}")
    print(f"Then under load:  {_command(directory, 'load')}")


def main() -> None:
    typer.main.get_command(app).main(prog_name="molostart", standalone_mode=True)
