"""Read and check a repository's ``molotov.json`` before anything runs.

The test entry is checked by molotov's own code (:func:`molotov.config.read_config_file`,
:func:`molotov.config.test_options`, :meth:`molotov.config.RunConfig.check`), so a config that
``moloslave`` accepts is one that ``molotov --config`` accepts. The ``molotov`` section may
also hold moloslave's own keys: ``requirements`` (a requirements file in the repository) and
``env`` (variables for the test process).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from molotov.config.errors import ConfigError
from molotov.config.jsonconfig import read_config_file, test_options
from molotov.config.runconfig import DEFAULT_SCENARIO, RunConfig

DEFAULT_CONFIG = "molotov.json"


@dataclass(frozen=True)
class SlaveConfig:
    """What moloslave needs from a repository's config to run one of its tests."""

    config: str  # relative to the repository
    test: str
    options: Mapping[str, Any]
    requirements: str | None = None  # relative to the repository
    env: Mapping[str, str] = field(default_factory=dict)


def inside(repo: Path, relative: str, what: str) -> Path:
    """``repo / relative``, refused when it is absolute or leads out of the repository."""
    if not relative or PurePosixPath(relative).is_absolute() or Path(relative).is_absolute():
        raise ConfigError(f"{what} {relative!r} must be a path relative to the repository")
    if ".." in PurePosixPath(relative).parts:
        raise ConfigError(f"{what} {relative!r} must stay inside the repository (no '..')")
    path = repo / relative
    # A symbolic link may still point elsewhere.
    if not path.resolve().is_relative_to(repo.resolve()):
        raise ConfigError(f"{what} {relative!r} must stay inside the repository")
    return path


def requirements(repo: Path, config: str, section: Mapping[str, Any]) -> str | None:
    value = section.get("requirements")
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"Bad config {config!r}: 'requirements' must be a string, got {value!r}")
    path = inside(repo, value, f"Bad config {config!r}: requirements")
    if not path.is_file():
        raise ConfigError(f"Bad config {config!r}: can't find the requirements file {value!r}")
    return value


def _env(config: str, section: Mapping[str, Any]) -> dict[str, str]:
    value = section.get("env", {})
    if not isinstance(value, dict):
        raise ConfigError(f"Bad config {config!r}: 'env' must be an object, got {value!r}")
    for key, item in value.items():
        if not key or "=" in key or "\0" in key:
            raise ConfigError(f"Bad config {config!r}: {key!r} is not a variable name")
        if not isinstance(item, str):
            raise ConfigError(f"Bad config {config!r}: env {key!r} must be a string, got {item!r}")
        if "\0" in item:  # no process environment can hold it
            raise ConfigError(f"Bad config {config!r}: env {key!r} must not hold a NUL byte")
    return dict(value)


def _check_scenario(repo: Path, config: str, test: str, options: Mapping[str, Any]) -> None:
    """A scenario given as a ``.py`` file must be there (molotov looks beside the config too)."""
    scenario = options.get("scenario", DEFAULT_SCENARIO)
    if not isinstance(scenario, str) or not scenario.endswith(".py"):
        return  # a module name: it may come with the requirements
    beside = (repo / config).parent
    if not (repo / scenario).is_file() and not (beside / scenario).is_file():
        raise ConfigError(
            f"Bad config {config!r}: test {test!r}: can't find the scenario file {scenario!r}"
        )


def load(repo: Path, config: str, test: str) -> SlaveConfig:
    """The checked configuration of ``test``, or a :class:`ConfigError` with one line."""
    try:
        return _load(repo, config, test)
    except ConfigError as exc:  # name files as the repository does, not by their clone's path
        raise ConfigError(str(exc).replace(f"{repo}{os.sep}", "")) from None


def _load(repo: Path, config: str, test: str) -> SlaveConfig:
    path = inside(repo, config, "The config file")
    section = read_config_file(path)
    # Keys molotov ignores are its to warn about, once, when it runs the test.
    options = test_options(section, test, config, warn=lambda line: None)
    try:
        RunConfig().replace(**options).check()
    except TypeError as exc:  # an option molotov reads but its RunConfig does not know
        raise ConfigError(f"Bad config {config!r}: test {test!r}: {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"Bad config {config!r}: test {test!r}: {exc}") from None
    _check_scenario(repo, config, test, options)
    return SlaveConfig(
        config=config,
        test=test,
        options=options,
        requirements=requirements(repo, config, section),
        env=_env(config, section),
    )
