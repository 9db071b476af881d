"""The configuration's errors: a problem worth one readable line, and an option out of bounds."""

from __future__ import annotations


class ConfigError(Exception):
    """A configuration problem worth one readable line (exit code 1)."""


class OptionValueError(ConfigError):
    """One option's value is out of its bounds; ``why`` says so without naming it."""

    def __init__(self, option: str, why: str) -> None:
        super().__init__(f"{option} {why}")
        self.option = option
        self.why = why
