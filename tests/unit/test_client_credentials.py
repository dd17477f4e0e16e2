"""The client's bearer token: read from the projected token's file, re-read as it rotates."""

from __future__ import annotations

from pathlib import Path

from statecast.client.core import ClientCore, get_call
from statecast.client.credentials import TokenFile


def test_the_token_file_is_reread_after_the_refresh_period(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("first\n")
    token = TokenFile(path, refresh=0)
    assert token() == "first"
    path.write_text("rotated")
    assert token() == "rotated"
    cached = TokenFile(path, refresh=3600)
    assert cached() == "rotated"
    path.write_text("later")
    assert cached() == "rotated"  # not read again within the refresh period


def test_a_missing_token_file_sends_no_token(tmp_path: Path) -> None:
    assert TokenFile(tmp_path / "absent")() is None


def test_every_trip_carries_the_current_token(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("t1")
    core = ClientCore(["http://a"], discover_peers=False, token=TokenFile(path, refresh=0))
    trip = core.attempt(get_call("ns", "res", "k")).next_trip()
    assert trip is not None
    assert ("Authorization", "Bearer t1") in trip.headers
    path.write_text("t2")
    trip = core.attempt(get_call("ns", "res", "k")).next_trip()
    assert trip is not None
    assert ("Authorization", "Bearer t2") in trip.headers
    bare = ClientCore(["http://a"], discover_peers=False).attempt(get_call("ns", "res", "k"))
    trip = bare.next_trip()
    assert trip is not None
    assert all(name != "Authorization" for name, _ in trip.headers)
