"""A party's TLS material as contexts: loaded from PEM, reloaded without a restart.

:class:`TlsMaterial` turns a certificate, its key and a trust bundle into a server
context (client certificates required, signed by the bundle) and a client context
(the server's certificate checked against the bundle and against the name the caller
expects: the peer's statecast identity, not its address). A reload builds new
contexts: new connections use them, open ones keep the certificates they were
established with. A listener is given one context for its life, so that context picks
the current one for each new connection (its SNI callback, which OpenSSL runs on every
ClientHello, with or without a server name).
"""

from __future__ import annotations

import hashlib
import logging
import os
import ssl
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from statecast.core.pki import identity_of

__all__ = ["TlsFiles", "TlsMaterial", "peer_identity"]

log = logging.getLogger(__name__)

#: The file names in a directory of TLS material (as in a ``kubernetes.io/tls`` Secret).
CERT_FILE, KEY_FILE, BUNDLE_FILE = "tls.crt", "tls.key", "ca.crt"


def peer_identity(peercert: Mapping[str, Any] | None) -> str | None:
    """The statecast identity in a verified peer certificate (``getpeercert()``)."""
    if not peercert:
        return None
    names = [value for kind, value in peercert.get("subjectAltName", ()) if kind == "DNS"]
    return identity_of(names)


def _context(purpose: ssl.Purpose, cert: bytes, key: bytes, bundle: bytes) -> ssl.SSLContext:
    server = purpose is ssl.Purpose.CLIENT_AUTH
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=bundle.decode("ascii"))
    _load_pair(context, cert, key)
    return context


def _load_pair(context: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    """Load a key pair held in memory (the ssl module reads key pairs from files only).

    On Linux, anonymous memory files (the agent's root file system is read-only);
    elsewhere a private temporary directory, removed at once.
    """
    if hasattr(os, "memfd_create"):
        fds: list[int] = []
        try:
            for data in (cert, key):
                fds.append(os.memfd_create("statecast-tls", os.MFD_CLOEXEC))
                with open(fds[-1], "wb", closefd=False) as out:
                    out.write(data)
            context.load_cert_chain(*(f"/proc/self/fd/{fd}" for fd in fds))
        finally:
            for fd in fds:
                os.close(fd)
        return
    with tempfile.TemporaryDirectory(prefix="statecast-tls-") as directory:
        cert_path, key_path = Path(directory, CERT_FILE), Path(directory, KEY_FILE)
        cert_path.write_bytes(cert)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
        context.load_cert_chain(cert_path, key_path)


class TlsMaterial:
    """One party's certificate, key and trust bundle, as TLS contexts (reloadable)."""

    def __init__(self) -> None:
        self._digest = b""
        self._server: ssl.SSLContext | None = None
        self._client: ssl.SSLContext | None = None
        self._listening: ssl.SSLContext | None = None
        #: How many times new material was loaded.
        self.loads = 0

    @property
    def ready(self) -> bool:
        """Whether material was loaded."""
        return self._client is not None

    def load(self, cert: bytes, key: bytes, bundle: bytes) -> bool:
        """Use this material for new connections; False when it is what is loaded.

        Raises:
            ssl.SSLError, ValueError: the material is not a valid key pair and bundle
                (what was loaded before stays in use).
        """
        digest = hashlib.sha256(b"\0".join((cert, key, bundle))).digest()
        if digest == self._digest:
            return False
        server = _context(ssl.Purpose.CLIENT_AUTH, cert, key, bundle)
        client = _context(ssl.Purpose.SERVER_AUTH, cert, key, bundle)
        self._server, self._client, self._digest = server, client, digest
        if self._listening is None:
            server.sni_callback = self._pick
            self._listening = server
        self.loads += 1
        return True

    def _pick(self, connection: ssl.SSLObject, _name: str | None, context: ssl.SSLContext) -> None:
        current = self._server
        if current is not None and current is not context:
            connection.context = current

    def listening_context(self) -> ssl.SSLContext:
        """The context to give a listener once (it hands each connection the current one).

        Raises:
            RuntimeError: nothing loaded yet.
        """
        if self._listening is None:
            raise RuntimeError("no TLS material loaded")
        return self._listening

    def client_context(self) -> ssl.SSLContext:
        """The context for a new connection to a peer (pass its identity as the host name).

        Raises:
            RuntimeError: nothing loaded yet.
        """
        if self._client is None:
            raise RuntimeError("no TLS material loaded")
        return self._client


class TlsFiles:
    """TLS material kept in a directory (``tls.crt``, ``tls.key``, ``ca.crt``).

    A mounted ``kubernetes.io/tls`` Secret or files a standalone agent is given;
    :meth:`poll` reloads them when they change.
    """

    def __init__(self, directory: Path, material: TlsMaterial) -> None:
        self.directory, self.material = directory, material

    def poll(self) -> bool:
        """Load the files if they changed; True when new material is in use.

        A missing or broken file is logged and what was loaded stays in use.
        """
        try:
            cert, key, bundle = (
                (self.directory / name).read_bytes() for name in (CERT_FILE, KEY_FILE, BUNDLE_FILE)
            )
            changed = self.material.load(cert, key, bundle)
        except (OSError, ssl.SSLError, ValueError) as err:
            log.warning("event=tls_load_failed directory=%s error=%s", self.directory, err)
            return False
        if changed:
            log.info("event=tls_loaded directory=%s loads=%d", self.directory, self.material.loads)
        return changed
