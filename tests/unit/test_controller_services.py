"""The services the handlers share: reading kopf's indexes from the reconciles' threads."""

from __future__ import annotations


def test_a_kopf_index_changing_while_it_is_read_is_read_again() -> None:
    """kopf changes its indexes on its event loop while reconciles read them in threads:
    two reconciles of a 1,000-resource run failed with "dictionary changed size"."""
    from collections.abc import Iterator, Mapping

    from statecast.controller.services import index_items

    class Changing(Mapping[str, list[int]]):
        def __init__(self) -> None:
            self.data, self.reads = {"a": [1], "b": [2]}, 0

        def __getitem__(self, key: str) -> list[int]:
            return self.data[key]

        def __len__(self) -> int:
            return len(self.data)

        def __iter__(self) -> Iterator[str]:
            self.reads += 1
            if self.reads == 1:
                raise RuntimeError("dictionary changed size during iteration")
            return iter(self.data)

    index = Changing()
    assert index_items(index) == [("a", [1]), ("b", [2])]
    assert index.reads == 2
