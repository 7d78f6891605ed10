"""Exceptions that carry enough context for an operator to act on them."""

from __future__ import annotations


class BluelampError(Exception):
    """Base for errors we expect and report cleanly (no traceback for the user)."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} (fix: {self.hint})" if self.hint else base


class ConfigError(BluelampError):
    """The configuration file or environment is invalid."""


class SetupError(BluelampError):
    """A prerequisite (Java, Maven, a user account) is missing."""
