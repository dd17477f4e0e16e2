"""Log records: what is encoded is what is read back, by both encodings of a push."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from statecast.agent import logfile
from statecast.core.clock import Stamp
from statecast.core.crdt import KeyState, PnCounter, lww

keys = st.text(alphabet="ab/\u00e9\U0001f600\ud800", max_size=5)
registers = st.builds(
    lww.pack,
    st.integers(0, 2**40),
    st.integers(0, 3),
    st.sampled_from(["n1", "ip-10-0-0-1.ec2.internal"]),
    st.integers(1, 2**40),
    st.one_of(st.none(), st.binary(max_size=8)),
)
states = st.builds(
    lambda up: KeyState(None, PnCounter().increment(Stamp(1, 0, "n1"), 1, up)), st.integers(0, 5)
)
entries = st.dictionaries(keys, st.one_of(registers, states), max_size=4)


def read_back(tmp: Path, *records: bytes) -> list[logfile.WalRecord]:
    path = tmp / "log-1.bin"
    path.write_bytes(logfile.MAGIC + b"".join(records))
    return list(logfile.read_segment(path))


@settings(max_examples=200, deadline=None)
@given(
    origin=st.sampled_from(["n1", "\u65e5"]),
    first=st.integers(1, 2**40),
    entries=entries,
    vector=st.dictionaries(st.sampled_from(["a", "b.c"]), st.integers(0, 2**40)),
)
def test_records_read_back_as_written(tmp_path_factory, origin, first, entries, vector):
    tmp = tmp_path_factory.mktemp("log")
    push = logfile.encode_push(origin, first, first + 1, entries)
    sync = logfile.encode_sync(vector, entries)
    got = read_back(tmp, push, sync)
    assert got == [
        logfile.WalRecord(entries, origin, first, first + 1),
        logfile.WalRecord(entries, vector=vector),
    ]


@given(key=keys, register=registers)
def test_a_single_register_push_is_the_general_encoding(key, register):
    general = logfile._frame(
        b"%c%b%b%b"
        % (
            1,
            logfile._name("n1"),
            logfile._RANGE.pack(3, 3),
            logfile.encode_entries({key: register}),
        )
    )
    assert logfile.encode_push("n1", 3, 3, {key: register}) == general
