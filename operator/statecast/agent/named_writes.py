"""Named eventual writes a replica applied lately: a resend answers, it does not apply again.

A PUT or DELETE of an eventual resource may reach the replica that applies it twice:
aiohttp (the forwarding agent's HTTP client, and the asyncio client library's) sends a
PUT or DELETE again on a new connection when the first one closes before the answer
came back (they are among its idempotent methods). Applied again, a PUT takes a new
hybrid stamp, later than any write acknowledged in between, and overwrites it (a reader
sees the first value, then the other, then the first again); a DELETE sent again
answers 404 for a delete that deleted. So a write carries ``Statecast-Request-Id`` (the
client library names each PUT and DELETE ``try:<uuid>``, a forwarding agent names one
that came unnamed ``fwd:<uuid>``), and the replica remembers what it answered each name
lately: the same name again gets the first answer, and nothing is applied.

Remembered per resource, operation, key and name (a name a client reuses for another
write or key is another write, as for strong writes), the newest :data:`REMEMBERED` of
the agent first in, first out (7.0 MiB full): a resend comes within one request's time
(a new connection at once), not minutes later.

Only the replica that applied a name knows it, so a write sent on to ANOTHER replica
after a broken connection (the forwarding agent's next replica, the client library's
next agent) says where it may have arrived: ``Statecast-Maybe-Applied-At`` names those
nodes (``*``: any replica of the resource). The replica it reaches asks them first
(:class:`AskElsewhere`, ``POST /v1/peer/named/{ns}/{res}``): one that applied it gives
its first answer, which is answered again (nothing applied); one that did not promises
never to (it remembers the name as refused: the first send, arriving late, is answered
503 ``not_applied``); when one cannot be asked the outcome is unknown (503
``outcome_unknown``, nothing applied). See docs/consistency.md, "Eventual writes sent
twice".
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import quote

import aiohttp

from statecast.agent.directory import PeerDirectory
from statecast.agent.errors import BadRequestError, UnavailableError
from statecast.agent.httpserver import Request, error_response
from statecast.agent.persistence import LogBatch

__all__ = [
    "ANY_REPLICA",
    "ASK_TIMEOUT",
    "KNOWS_SENT_ON",
    "MAX_NAME",
    "MAYBE_APPLIED_AT",
    "REFUSED",
    "REMEMBERED",
    "REQUEST_ID",
    "SENT_ON",
    "TRIED_AGENTS",
    "AskElsewhere",
    "Named",
    "NamedWrites",
    "Remembered",
    "maybe_applied_at",
    "request_name",
    "tried_agents",
]

log = logging.getLogger(__name__)

REQUEST_ID = "Statecast-Request-Id"
_REQUEST_ID = REQUEST_ID.lower()
#: Where a write sent on after a broken connection may have arrived (nodes, or ``*``).
MAYBE_APPLIED_AT = "Statecast-Maybe-Applied-At"
_MAYBE_APPLIED_AT = MAYBE_APPLIED_AT.lower()
#: ``Statecast-Maybe-Applied-At`` for "any replica of the resource" (the client's).
ANY_REPLICA = "*"
#: Beside the client's ``*``: the nodes of the agents it tried (session 12). An agent
#: that knows it asks those instead of every replica; agents of before ignore it and
#: ask every replica (the client naming them in ``Statecast-Maybe-Applied-At`` itself,
#: an agent of session 11 would ask them alone, not knowing that one may have sent the
#: write on to another replica).
TRIED_AGENTS = "Statecast-Tried-Agents"
_TRIED_AGENTS = TRIED_AGENTS.lower()
#: Seconds to wait for a replica asked whether it applied a name.
ASK_TIMEOUT = aiohttp.ClientTimeout(total=5, sock_connect=2)
#: Characters of a name at most (as for strong writes).
MAX_NAME = 64
#: Names remembered by one agent, over all its eventual replicas.
REMEMBERED = 16384
#: In an answer to ``POST /v1/peer/named``: this agent's "not applied" covers the
#: replicas it sent the write on to (session 12; agents of before do not say it).
KNOWS_SENT_ON = "knowsSentOn"


def request_name(request: Request) -> str:
    """The request's ``Statecast-Request-Id`` ("" when it has none).

    Raises:
        BadRequestError: longer than :data:`MAX_NAME` characters.
    """
    name = request.headers.get(_REQUEST_ID, "")
    if len(name) > MAX_NAME:
        raise BadRequestError(f"{REQUEST_ID} longer than {MAX_NAME} characters")
    return name


def maybe_applied_at(request: Request) -> tuple[str, ...]:
    """The nodes a write may have reached before (``Statecast-Maybe-Applied-At``).

    () when it says none; ``("*",)`` (:data:`ANY_REPLICA`) among them: any replica.
    """
    return _nodes(request.headers.get(_MAYBE_APPLIED_AT, ""))


def tried_agents(request: Request) -> tuple[str, ...]:
    """The nodes of the agents the client tried (:data:`TRIED_AGENTS`; () when none)."""
    return _nodes(request.headers.get(_TRIED_AGENTS, ""))


def _nodes(raw: str) -> tuple[str, ...]:
    return tuple(node for part in raw.split(",") if (node := part.strip()))


@dataclass(frozen=True, slots=True)
class Remembered:
    """The answer a named write had: status, body, and the log batch it waited for.

    Attributes:
        status: The HTTP status (200, or 404 for a delete of a missing key).
        body: The answer's body.
        batch: The write's log batch (None: none); a resend's answer waits for it too,
            and answers ``outcome_unknown`` as the first did if it failed.
        refused: A promise, not an answer: another replica asked whether the write was
            applied here, it was not, and it never will be (503 ``not_applied``).
        sent_on: Not an answer either: this agent sent the write on to a replica (it
            held none that could take it), which may have applied it (session 12).
    """

    status: int
    body: bytes
    batch: LogBatch | None = None
    refused: bool = False
    sent_on: bool = False


#: What a name another replica asked about, unknown here, is remembered as.
REFUSED = Remembered(
    503,
    error_response(
        503, "not_applied", "another replica took this write (or may have): not applied here"
    ).body,
    refused=True,
)
#: What a name this agent sent on (forwarded) is remembered as.
SENT_ON = Remembered(0, b"", sent_on=True)


#: What a name is remembered under: resource, operation (``put``, ``delete``), key, name.
Named = tuple[tuple[str, str], str, str, str]


class NamedWrites:
    """The answers of the named writes applied lately (first in, first out).

    Args:
        limit: How many names to remember.
    """

    __slots__ = ("_answers", "limit")

    def __init__(self, limit: int = REMEMBERED) -> None:
        self.limit = limit
        # (an OrderedDict: forgetting a dict's first key scans the keys deleted before
        # it, 13 us a write at 16,384 against 0.6 us)
        self._answers: OrderedDict[Named, Remembered] = OrderedDict()

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, named: Named) -> Remembered | None:
        """What the write ``named`` answered, if it is remembered (never for name "")."""
        return self._answers.get(named) if named[3] else None

    def remember(self, named: Named, answer: Remembered) -> None:
        """Remember ``answer`` for ``named`` (nothing for name ""), forgetting the oldest."""
        if not named[3]:
            return
        answers = self._answers
        answers[named] = answer
        if len(answers) > self.limit:
            answers.popitem(last=False)


class AskElsewhere:
    """Asks the replicas a write sent on may have reached whether they applied it.

    Args:
        node: This agent's node (never asked).
        directory: Where the peers are.
        session: Gives the HTTP session to ask with.
    """

    def __init__(
        self,
        node: str,
        directory: PeerDirectory,
        session: Callable[[], aiohttp.ClientSession],
    ) -> None:
        self.node, self.directory, self._session = node, directory, session

    async def ask(
        self, named: Named, nodes: Iterable[str], everyone: Iterable[str] = ()
    ) -> Remembered | None:
        """The first answer of ``named`` where it was applied; None: applied nowhere.

        Each node asked that did not apply it has promised never to. A node that did not
        apply it but may have sent it on (a forwarding agent the client tried; an agent
        of before session 11 does not say whether it did) widens the question to
        ``everyone`` (the resource's replicas), as ``*`` asks.

        Raises:
            UnavailableError: ``outcome_unknown``: a node could not be asked (it may
                have applied the write).
        """
        asked = sorted({n for n in nodes if n != self.node})
        found, unsure = await self._ask_all(named, asked)
        if found is None and unsure:
            found, _ = await self._ask_all(named, sorted(set(everyone) - {self.node, *asked}))
        return found

    async def _ask_all(self, named: Named, asked: list[str]) -> tuple[Remembered | None, bool]:
        """(an answer where it was applied, whether a node may have sent it on)."""
        answers = await asyncio.gather(*(self._ask_one(named, n) for n in asked))
        applied = [a for a in answers if isinstance(a, Remembered)]
        if applied:
            return applied[0], False
        unknown = [n for n, a in zip(asked, answers, strict=True) if a is None]
        if unknown:
            message = f"sent on after {', '.join(unknown)} may have applied it: not applied here"
            raise UnavailableError(message, "outcome_unknown")
        return None, not all(answers)

    async def _ask_one(self, named: Named, node: str) -> Remembered | bool | None:
        """``node``'s first answer; None: unknown; True/False: not applied there.

        True: and it never will be. False: it may have been sent on from there (see
        :data:`KNOWS_SENT_ON`).
        """
        base = self.directory.url(node)
        if base is None:
            return None
        (ns, res), operation, key, name = named
        url = f"{base}/v1/peer/named/{quote(ns, safe='')}/{quote(res, safe='')}"
        body = {"operation": operation, "key": key, "name": name}
        try:
            async with self._session().post(
                url, json=body, timeout=ASK_TIMEOUT, **self.directory.options(node)
            ) as reply:
                payload = await reply.read()
                status = reply.status
        except (aiohttp.ClientError, TimeoutError) as err:
            log.debug("event=named_ask_failed node=%s error=%s", node, err)
            return None
        if status != 200:
            return None
        try:
            found = json.loads(payload)
            if not found["applied"]:
                return found.get(KNOWS_SENT_ON) is True and not found.get("sentOn")
            return Remembered(int(found["status"]), str(found["body"]).encode())
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
