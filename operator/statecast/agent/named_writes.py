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
(a new connection at once), not minutes later. Only the replica that applied a name
knows it: a write the forwarding agent sends on to another replica after a broken
connection is applied there again (see docs/consistency.md, "Eventual writes sent
twice").
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from statecast.agent.errors import BadRequestError
from statecast.agent.httpserver import Request
from statecast.agent.persistence import LogBatch

__all__ = [
    "MAX_NAME",
    "REMEMBERED",
    "REQUEST_ID",
    "Named",
    "NamedWrites",
    "Remembered",
    "request_name",
]

REQUEST_ID = "Statecast-Request-Id"
_REQUEST_ID = REQUEST_ID.lower()
#: Characters of a name at most (as for strong writes).
MAX_NAME = 64
#: Names remembered by one agent, over all its eventual replicas.
REMEMBERED = 16384


def request_name(request: Request) -> str:
    """The request's ``Statecast-Request-Id`` ("" when it has none).

    Raises:
        BadRequestError: longer than :data:`MAX_NAME` characters.
    """
    name = request.headers.get(_REQUEST_ID, "")
    if len(name) > MAX_NAME:
        raise BadRequestError(f"{REQUEST_ID} longer than {MAX_NAME} characters")
    return name


@dataclass(frozen=True, slots=True)
class Remembered:
    """The answer a named write had: status, body, and the log batch it waited for.

    Attributes:
        status: The HTTP status (200, or 404 for a delete of a missing key).
        body: The answer's body.
        batch: The write's log batch (None: none); a resend's answer waits for it too,
            and answers ``outcome_unknown`` as the first did if it failed.
    """

    status: int
    body: bytes
    batch: LogBatch | None = None


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
