"""The answers of named eventual writes an agent remembers (``agent.named_writes``)."""

from __future__ import annotations

import pytest

from statecast.agent.errors import BadRequestError
from statecast.agent.httpserver import Request
from statecast.agent.named_writes import NamedWrites, Remembered, request_name

REF = ("apps", "flags")


def test_a_name_answers_its_first_answer_for_the_same_write_only() -> None:
    named = NamedWrites()
    named.remember((REF, "put", "k", "try:1"), Remembered(200, b"first"))
    assert named.get((REF, "put", "k", "try:1")) == Remembered(200, b"first")
    # a name reused for another key, operation or resource is another write
    assert named.get((REF, "put", "other", "try:1")) is None
    assert named.get((REF, "delete", "k", "try:1")) is None
    assert named.get((("apps", "other"), "put", "k", "try:1")) is None


def test_an_unnamed_write_is_never_remembered() -> None:
    named = NamedWrites()
    named.remember((REF, "put", "k", ""), Remembered(200, b"x"))
    assert len(named) == 0
    assert named.get((REF, "put", "k", "")) is None


def test_the_oldest_names_are_forgotten_first() -> None:
    named = NamedWrites(limit=3)
    for i in range(5):
        named.remember((REF, "put", "k", f"n{i}"), Remembered(200, b"%d" % i))
    assert len(named) == 3
    assert [named.get((REF, "put", "k", f"n{i}")) is not None for i in range(5)] == [
        False, False, True, True, True,
    ]  # fmt: skip


def test_a_name_longer_than_64_characters_is_refused() -> None:
    def request(name: str) -> Request:
        return Request("PUT", "/v1/apps/flags/k", {"statecast-request-id": name}, b"1")

    assert request_name(request("x" * 64)) == "x" * 64
    assert request_name(Request("PUT", "/v1/apps/flags/k", {}, b"1")) == ""
    with pytest.raises(BadRequestError):
        request_name(request("x" * 65))
