"""The command line's defaults are RunConfig's: a default changed in one place fails here.

The command is parsed with no arguments by click itself (the real typer command, its
callbacks included), its values turned into a RunConfig as a run does, then compared with
``RunConfig()`` field by field.
"""

from __future__ import annotations

import dataclasses
import os

import pytest
import typer

from molotov.cli import app
from molotov.cli_options import config_from_options
from molotov.config.runconfig import RunConfig

AGENT_SET = {"agent_index", "agent_count", "cluster_agent"}  # RunConfig fields that no flag sets


@pytest.fixture
def no_molotov_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """MOLOTOV_<OPTION> variables are option values: none may stand in for a default."""
    for name in list(os.environ):
        if name.startswith("MOLOTOV_"):
            monkeypatch.delenv(name)


def parsed_defaults() -> dict[str, object]:
    command = typer.main.get_command(app)
    with command.make_context("molotov", [], auto_envvar_prefix="MOLOTOV") as ctx:
        return dict(ctx.params)


@pytest.mark.usefixtures("no_molotov_env")
def test_every_default_is_runconfig_default() -> None:
    params = parsed_defaults()
    from_cli = config_from_options(params)
    default = RunConfig()
    fields = [f.name for f in dataclasses.fields(RunConfig)]
    differences = {
        name: (getattr(from_cli, name), getattr(default, name))
        for name in fields
        if getattr(from_cli, name) != getattr(default, name)
    }
    assert differences == {}
    # Every RunConfig field is an option of the command (its name, the long flag's), but a
    # cluster agent's place in its cluster, which its coordinator sets.
    assert set(fields) - AGENT_SET <= set(params), set(fields) - AGENT_SET - set(params)


@pytest.mark.usefixtures("no_molotov_env")
def test_a_changed_default_is_seen() -> None:
    """The comparison above can fail: a parsed value that differs from the default shows."""
    command = typer.main.get_command(app)
    with command.make_context("molotov", ["--max-lag", "2s"]) as ctx:
        from_cli = config_from_options(ctx.params)
    assert from_cli.max_lag == 2.0 != RunConfig().max_lag
