"""The client's credentials: a projected ServiceAccount token, re-read as it rotates.

With the agents' auth on (docs/security.md), every request carries
``Authorization: Bearer <token>``, a ServiceAccount token for the audience
``statecast``. A pod gets one from a projected volume (the kubelet writes a fresh
token before the old one expires)::

    volumes:
    - name: statecast-token
      projected:
        sources:
        - serviceAccountToken: {audience: statecast, expirationSeconds: 3600, path: token}
    # mounted at /var/run/secrets/statecast.io/serviceaccount

The file is read again at most every ``refresh`` seconds, so a rotated token is used
within that time and a request costs no file read.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["DEFAULT_TOKEN_PATH", "TOKEN_FILE_ENV", "TokenFile", "default_token"]

#: Where the chart's examples mount the projected token.
DEFAULT_TOKEN_PATH = Path("/var/run/secrets/statecast.io/serviceaccount/token")
#: An environment variable naming another token file.
TOKEN_FILE_ENV = "STATECAST_TOKEN_FILE"


class TokenFile:
    """A token read from a file, re-read every ``refresh`` seconds.

    Args:
        path: The token file.
        refresh: Seconds a read token is used before the file is read again.
    """

    def __init__(self, path: Path, refresh: float = 60.0) -> None:
        self.path = path
        self.refresh = refresh
        self._token: str | None = None
        self._read_at = -float("inf")

    def __call__(self) -> str | None:
        """The current token (None when the file is missing or empty)."""
        now = time.monotonic()
        if now - self._read_at >= self.refresh:
            self._read_at = now
            try:
                self._token = self.path.read_text().strip() or None
            except OSError:
                self._token = None
        return self._token


def default_token() -> TokenFile | None:
    """The token file of ``$STATECAST_TOKEN_FILE``, else the default path if it exists."""
    named = os.environ.get(TOKEN_FILE_ENV)
    if named:
        return TokenFile(Path(named))
    if DEFAULT_TOKEN_PATH.exists():
        return TokenFile(DEFAULT_TOKEN_PATH)
    return None
