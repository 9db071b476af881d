"""The one way to run things: ``nox -s tests``, ``nox -s lint``, ``nox -s bench``."""

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True

@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite, against the installed package."""
    session.install(".[test]")
    session.run("pytest", *session.posargs)

@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format) on everything, mypy --strict on src/."""
    session.install("ruff", "mypy", ".")
    session.run("ruff", "check", "src", "tests", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "noxfile.py")
    session.run("mypy", "src")
