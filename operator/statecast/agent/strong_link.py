"""The strong protocol on the wire between agents (JSON over the peer routes).

- ``POST /v1/peer/strong/append/{ns}/{res}``: a leader's
  :class:`~statecast.core.strong.messages.AppendRequest` (plus ``sender``), answered
  with an :class:`~statecast.core.strong.messages.AppendReply`.
- ``POST /v1/peer/strong/fence/{ns}/{res}``: the operator's ``{"epoch"}``, answered with
  ``{"promised": bool, "epoch": promised, "position": {"epoch", "index"}}`` once durable.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp

from statecast.agent.directory import PeerDirectory
from statecast.agent.errors import BadRequestError
from statecast.core.strong.messages import AppendReply, AppendRequest

__all__ = ["HttpPeerLink", "decode_append", "decode_fence"]

log = logging.getLogger(__name__)

#: Seconds an append may take before the peer counts as unreachable for this round.
APPEND_TIMEOUT = 2.0


def decode_append(body: bytes) -> tuple[str, AppendRequest]:
    """The sender and the request of an append body.

    Raises:
        BadRequestError: Not an append request.
    """
    try:
        raw: Any = json.loads(body)
        return str(raw["sender"]), AppendRequest.from_json(raw)
    except (ValueError, KeyError, TypeError, RecursionError) as err:
        raise BadRequestError(f"malformed append: {err}", "malformed_append") from err


def decode_fence(body: bytes) -> int:
    """The epoch of a fence body.

    Raises:
        BadRequestError: Not a fence request.
    """
    try:
        epoch = json.loads(body)["epoch"]
    except (ValueError, KeyError, TypeError, RecursionError) as err:
        raise BadRequestError(f"malformed fence: {err}", "malformed_fence") from err
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 1:
        raise BadRequestError("epoch must be a positive integer", "malformed_fence")
    return epoch


class HttpPeerLink:
    """:class:`~statecast.agent.strong.PeerLink` over HTTP to the peers' agents.

    Args:
        node: This agent's node (the sender).
        directory: Where the peers are.
        session: A callable returning the shared HTTP session.
    """

    def __init__(self, node: str, directory: PeerDirectory, session: Any) -> None:
        self.node, self.directory, self._session = node, directory, session

    async def append(
        self, peer: str, ref: tuple[str, str], request: AppendRequest
    ) -> AppendReply | None:
        """Send ``request`` to ``peer``; its reply, or None (unreachable, refused, garbled)."""
        base = self.directory.url(peer)
        if base is None:
            return None
        body = json.dumps({"sender": self.node, **request.to_json()}, separators=(",", ":"))
        url = f"{base}/v1/peer/strong/append/{ref[0]}/{ref[1]}"
        try:
            async with self._session().post(
                url,
                data=body.encode(),
                timeout=aiohttp.ClientTimeout(total=APPEND_TIMEOUT),
                **self.directory.options(peer),
            ) as response:
                raw = await response.read()
                if response.status != 200:
                    log.debug("event=append_refused peer=%s status=%d", peer, response.status)
                    return None
            return AppendReply.from_json(json.loads(raw))
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            log.debug("event=append_failed peer=%s error=%s", peer, err)
            return None
