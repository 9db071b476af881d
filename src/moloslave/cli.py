"""The ``moloslave`` command: run a test of a git repository's ``molotov.json``.

``moloslave [OPTIONS] [REPO] [TEST]``: check REPO, clone it into the work dir (a temporary
one, or ``--directory DIR`` itself, as Molotov 2.x did: scripts look for ``DIR/molotov.json``),
check the config, install its requirements into a virtual environment if it names some (in
the clone, as ``.moloslave-venv``, a name no repository uses), then run ``python -m molotov
--config CONFIG TEST`` in the clone and exit with its exit code. The work dir goes away however
the run ends, unless ``--directory`` or ``--keep``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from moloslave import config as slave_config
from moloslave import env as slave_env
from moloslave import fetch
from moloslave.install import SlaveError, install, say
from moloslave.process import Interrupted, Signals
from molotov._version import __version__
from molotov.config.errors import ConfigError
from molotov.config.jsonconfig import DEFAULT_TEST
from molotov.stdio import survive_closed_pipes

app = typer.Typer(
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        print(__version__)
        raise typer.Exit(0)


def _clone_timeout(value: float) -> float:
    if not 0 < value <= fetch.MAX_CLONE_TIMEOUT:  # also refuses nan and inf
        raise typer.BadParameter(
            f"must be more than 0 and at most {fetch.MAX_CLONE_TIMEOUT:g} (got {value:g})"
        )
    return value


def _describe(options: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in options.items())


def _work_dir(directory: Path | None) -> Path:
    if directory is None:
        return Path(tempfile.mkdtemp(prefix="moloslave-"))
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise SlaveError(f"--directory {str(directory)!r} must be an empty or new directory")
    directory.mkdir(parents=True, exist_ok=True)
    return directory.resolve()


def _prepare(
    signals: Signals, repo: Path, url: str, ref: str | None, config: str, test: str, timeout: float
) -> tuple[slave_config.SlaveConfig, Path]:
    """Clone into the work dir, check the config, install the requirements: (config, python)."""
    say(f"Cloning {url}" + (f" at {ref}" if ref else ""))
    fetch.clone(url, repo, ref, timeout)
    checked = slave_config.load(repo, config, test)
    return checked, install(signals, repo, checked.requirements)


def run(
    repo: str,
    test: str,
    ref: str | None,
    config: str,
    directory: Path | None,
    keep: bool,
    clone_timeout: float = fetch.CLONE_TIMEOUT,
) -> int:
    """The whole run; its exit code."""
    try:
        url = fetch.check_repo(repo)
        if ref is not None:
            fetch.check_ref(ref)
        work = _work_dir(directory)
    except (fetch.FetchError, SlaveError) as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    keep = keep or directory is not None
    with Signals() as signals:
        try:
            say(f"Work dir: {work}")
            checked, python = _prepare(signals, work, url, ref, config, test, clone_timeout)
            args = ["-m", "molotov", "--config", checked.config, checked.test]
            say(f"Running: molotov {' '.join(args[2:])} ({_describe(checked.options)})")
            env = slave_env.run_env(os.environ, checked.env, python)
            return signals.run([str(python), *args], cwd=work, env=env)
        except (fetch.FetchError, ConfigError, SlaveError) as exc:
            sys.stderr.write(f"{exc}\n")
            return 1
        except Interrupted as exc:
            sys.stderr.write(f"Interrupted ({exc}) before the test ran\n")
            return exc.exit_code
        finally:
            signals.ignore()
            if keep:
                sys.stderr.write(f"Kept the work dir {work}\n")
            else:
                shutil.rmtree(work, ignore_errors=True)


@app.command(help="Run a molotov test of a git repository's molotov.json.")
def moloslave(
    repo: Annotated[
        str,
        typer.Argument(
            envvar="TEST_REPO",
            metavar="REPO",
            show_default=False,
            help="Git URL (https, http, git, ssh, file) or local path. Default: $TEST_REPO.",
        ),
    ] = "",
    test: Annotated[
        str,
        typer.Argument(
            envvar="TEST_NAME", metavar="TEST", help="Test name in the config. Default: $TEST_NAME."
        ),
    ] = DEFAULT_TEST,
    ref: Annotated[str | None, typer.Option("--ref", help="Branch, tag or commit to run.")] = None,
    config: Annotated[
        str, typer.Option("--config", help="Config file, relative to the repository.")
    ] = slave_config.DEFAULT_CONFIG,
    directory: Annotated[
        Path | None,
        typer.Option("--directory", help="Work in this (new or empty) directory and keep it."),
    ] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the temporary work dir.")] = False,
    clone_timeout: Annotated[
        float,
        typer.Option(
            "--clone-timeout",
            callback=_clone_timeout,
            help="Seconds the whole clone may take.",
        ),
    ] = fetch.CLONE_TIMEOUT,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
    # -- agent mode (molotov --pods --repo): see moloslave.agent ---------------------------
    agent: Annotated[
        bool,
        typer.Option(
            "--agent",
            help="Serve TEST (a scenario path in the repository) as `molotov --agent` once "
            "cloned and its requirements installed.",
        ),
    ] = False,
    listen: Annotated[
        str, typer.Option("--listen", help="--agent: the agent's HOST:PORT.")
    ] = "0.0.0.0:8470",
) -> None:
    if agent:
        from moloslave.agent import run_agent

        raise typer.Exit(run_agent(repo, ref, test, listen, clone_timeout))
    raise typer.Exit(run(repo, test, ref, config, directory, keep, clone_timeout))


def main(argv: Sequence[str] | None = None) -> None:
    survive_closed_pipes()  # `moloslave ... | head` is not an error of the run
    command = typer.main.get_command(app)
    args = list(sys.argv[1:] if argv is None else argv)
    command.main(args=args, prog_name="moloslave", standalone_mode=True)
