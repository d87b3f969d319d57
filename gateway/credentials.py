"""Where credentials live on this machine (all files 0600, under the data dir): the node writes
its operator token here, and the CLI and the tools read it and keep app secrets beside it.

- operator token of node N: ``<data_dir>/<N>/operator.token``, written by the node on first start;
- app secrets: ``<data_dir>/credentials/<app id with / as __>.secret``, written by
  ``yrdgw app create``.
Flags and environment variables (``YRD_OPERATOR_TOKEN``, ``YRD_APP_SECRET``) override the files.
"""

from __future__ import annotations

import os
from pathlib import Path

from gateway.config import FederationConfig
from gateway.errors import ConfigError

OPERATOR_TOKEN_FILE = "operator.token"


def operator_token_path(fed: FederationConfig, node: str) -> Path:
    return fed.data_dir / node / OPERATOR_TOKEN_FILE


def app_secret_path(fed: FederationConfig, app: str) -> Path:
    return fed.data_dir / "credentials" / (app.replace("/", "__") + ".secret")


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


def operator_token(fed: FederationConfig, node: str, given: str | None = None) -> str:
    token = given or os.environ.get("YRD_OPERATOR_TOKEN")
    if token:
        return token
    path = operator_token_path(fed, node)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise ConfigError(
            path,
            "operator token",
            "the token the node wrote on first start (or --operator-token / $YRD_OPERATOR_TOKEN)",
        ) from None


def app_secret(fed: FederationConfig, app: str, given: str | None = None) -> str:
    secret = given or os.environ.get("YRD_APP_SECRET")
    if secret:
        return secret
    path = app_secret_path(fed, app)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise ConfigError(
            path,
            "app secret",
            f"the secret from `yrdgw app create {app}` (or --secret / $YRD_APP_SECRET)",
        ) from None
