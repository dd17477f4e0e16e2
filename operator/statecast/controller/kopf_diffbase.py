"""kopf's diff base, left unbuilt: no handler of this operator reads it.

For every event of every watched object kopf builds the object's *essence* (a deep copy
of its body without metadata and status) and diffs it with the last handled one, for
its changing handlers (``on.create``/``update``/``resume``/``delete``/``field``: their
``old``, ``new`` and ``diff``) and to reset its idle timers. This operator registers
neither (``tests/unit/test_kopf_diffbase.py`` checks it): its resources are reconciled
from ``on.event`` handlers and indexes, and its one timer has no ``idle``. In a
profile of a first pass over 1,000 resources x 50 nodes (some 6,000 events of
SharedResources and Replicas) the build and its deep copies were ~5 % of the
operator's CPU and the diff ~2 % more, on a machine the pass keeps busy
(docs/scale-history.md, session 15). :class:`UnbuiltDiffBase` builds an empty essence instead:
nothing is copied, and the diff with an object's missing last-handled one is one item.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import kopf

__all__ = ["UnbuiltDiffBase"]


class UnbuiltDiffBase(kopf.AnnotationsDiffBaseStorage):
    """kopf's annotations diff base, but every essence built is empty (see the module doc).

    Where it would be stored (a changing handler's success) it is stored as kopf does;
    with no changing handler, that never happens.
    """

    def build(
        self,
        *,
        body: kopf.Body,
        extra_fields: Iterable[kopf.FieldSpec] | None = None,
    ) -> kopf.BodyEssence:
        """An empty essence: no copy of ``body``."""
        return cast(kopf.BodyEssence, {})
