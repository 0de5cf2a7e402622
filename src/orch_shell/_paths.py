"""Where orch keeps its files, decided in one place from the environment.

``ORCH_HOME`` pins everything (data, config, database) under one directory: that
is what the Claude Desktop entry sets, because Claude Desktop starts servers with
an environment unlike the user's shell. Without it, the platform's conventional
per-user directories are used (on macOS and Windows data and config coincide).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import platformdirs
from attrs import Attribute, field, frozen

APP_NAME = "orch"
CONFIG_NAME = "orch.toml"
DATABASE_NAME = "orch.db"
TOKEN_NAME = "token"  # noqa: S105 - a file name, not a secret
SIGNING_KEY_NAME = "token_signing.pem"
PUBLIC_KEY_NAME = "token_signing.pub.pem"


def _absolute(_instance: object, attribute: Attribute[Path], value: Path) -> None:
    # Relative paths would silently change meaning with the working directory,
    # which Claude Desktop does not promise to keep.
    if not value.is_absolute():
        raise ValueError(f"{attribute.name} must be absolute, got {value}")


@frozen(kw_only=True)
class OrchPaths:
    """The files orch uses; nothing here is created (see ``init``)."""

    home: Path = field(validator=_absolute)
    """The data directory: database, logs; the config file too when pinned."""
    config_file: Path = field(validator=_absolute)
    database: Path = field(validator=_absolute)
    log_dir: Path = field(validator=_absolute)
    """For whoever writes log files; orch itself logs to stderr."""
    keys_dir: Path = field(validator=_absolute)
    """Private keys (0700 directory, 0600 files): the local token issuer's key pair."""
    token_file: Path = field(validator=_absolute)
    """The local user's token (0600), minted by ``orch init``; Claude Desktop's entry
    points ``ORCH_TOKEN_FILE`` here."""
    pinned: bool
    """True when ``ORCH_HOME`` chose ``home`` (so the config file lives inside it)."""

    @property
    def signing_key(self) -> Path:
        """The local issuer's Ed25519 private key (PEM, 0600)."""
        return self.keys_dir / SIGNING_KEY_NAME

    @property
    def public_key(self) -> Path:
        """The local issuer's public key (PEM): what the server verifies tokens with."""
        return self.keys_dir / PUBLIC_KEY_NAME


def resolve_paths(environ: Mapping[str, str]) -> OrchPaths:
    """Where orch's files are for this environment (an empty ``ORCH_HOME`` is unset).

    >>> paths = resolve_paths({"ORCH_HOME": "/srv/orch"})
    >>> str(paths.config_file), str(paths.database)
    ('/srv/orch/orch.toml', '/srv/orch/orch.db')
    """
    pinned = environ.get("ORCH_HOME", "")
    if pinned:
        home = Path(pinned).expanduser().absolute()
        config_dir = home
    else:
        # appauthor=False: on Windows the default would nest orch inside orch.
        home = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)).absolute()
        config_dir = Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)).absolute()
    return OrchPaths(
        home=home,
        config_file=config_dir / CONFIG_NAME,
        database=home / DATABASE_NAME,
        log_dir=home / "logs",
        keys_dir=home / "keys",
        token_file=home / TOKEN_NAME,
        pinned=bool(pinned),
    )
