"""Credentials for sources: read only from the environment or a secret file.

A source's YAML never holds a credential, only where to find it::

    bearer_token: {env: X_BEARER_TOKEN}
    client_secret: {file: /run/secrets/reddit_client_secret}

The value is wrapped in ``pydantic.SecretStr``, whose ``str()`` and ``repr()``
are ``**********``, so a credential cannot reach a log line or an error by
accident. Errors name the variable or file, never the value.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from bluelamp.errors import ConfigError


class SecretRef(BaseModel):
    """Where a credential is: an environment variable or a file (e.g. a Docker or
    Kubernetes secret). Exactly one of the two."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
    file: Path | None = None

    @model_validator(mode="after")
    def _one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of 'env' (a variable name) or 'file' (a path)")
        return self

    def describe(self) -> str:
        return f"environment variable {self.env}" if self.env else f"secret file {self.file}"

    def resolve(self, *, source: str, what: str) -> SecretStr:
        """The credential, or a ConfigError saying where it was looked for."""
        if self.env is not None:
            value = os.environ.get(self.env, "")
        else:
            assert self.file is not None
            try:
                value = self.file.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(
                    f"source {source!r}: {what}: cannot read {self.describe()}: {exc.strerror}",
                    hint="create the file, readable only by the Bluelamp service user",
                ) from exc
        value = value.strip()
        if not value:
            raise ConfigError(
                f"source {source!r}: {what}: {self.describe()} is empty or not set",
                hint=f"set {self.describe()} before starting Bluelamp",
            )
        return SecretStr(value)
