"""The prediction act's pure parts: schedule, outcome, live view, picture (no cluster)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from statecast.demo.live import change_line, learned_at, line, screen, summary, zone_reads
from statecast.demo.outcome import Lead, leads, learned, outcome, policy_outcome
from statecast.demo.picture import draw, placement_spans
from statecast.demo.recording import Copy, Decision, NodeBand, Recording, Tick
from statecast.demo.sun import Schedule, ZoneChange

ZONES = {"n1": "zone-a", "n2": "zone-b", "n3": "zone-c"}
DAY = 12.0  # shifts of 4 s: zone-a [0, 4), zone-b [4, 8), zone-c [8, 12)


def recording() -> Recording:
    return Recording(
        Schedule(("zone-a", "zone-b", "zone-c"), DAY, peak=10.0, background=1.0),
        ZONES,
        {"cat": "predictive", "cat-static": "static"},
    )


def tick(t: float, predictive: dict[str, str], model: str = "naive") -> Tick:
    """Copies of cat on the nodes given (node -> phase); cat-static on every node."""
    return Tick(
        t,
        {
            "cat": tuple(Copy(n, ZONES[n], phase, "predicted") for n, phase in predictive.items()),
            "cat-static": tuple(Copy(n, z, "Ready", "minimum") for n, z in ZONES.items()),
        },
        {"cat": (NodeBand("n1", 8.0, 6.0, 10.0), NodeBand("n2", 2.0, 1.0, 4.0))},
        {"cat": model, "cat-static": ""},
    )


@pytest.mark.parametrize(
    ("t", "busy", "rate_b"),
    [
        (0.0, "zone-a", 1.0),
        (3.99, "zone-a", 1.0),
        (4.0, "zone-b", 10.0),
        (11.9, "zone-c", 1.0),
        (12.0, "zone-a", 1.0),
        (16.5, "zone-b", 10.0),
    ],
)
def test_the_sun_visits_each_zone_for_a_third_of_the_day(
    t: float, busy: str, rate_b: float
) -> None:
    schedule = recording().schedule
    assert schedule.busy(t) == busy
    assert schedule.rate("zone-b", t) == rate_b


def test_zone_changes_are_every_shift_after_the_start() -> None:
    assert recording().schedule.changes(13.0) == (
        ZoneChange(4.0, "zone-b"),
        ZoneChange(8.0, "zone-c"),
        ZoneChange(12.0, "zone-a"),
    )


@pytest.mark.parametrize(
    ("model", "seasonal"),
    [
        ("naive", False),
        ("naive,zero", False),
        ("seasonal_naive+naive", True),
        ("profile+ses", True),
        ("robust_profile", True),
        ("", False),
    ],
)
def test_a_forecast_knows_the_day_when_its_model_has_a_seasonal_member(
    model: str, seasonal: bool
) -> None:
    assert learned(model) is seasonal


def test_a_copy_ready_before_the_change_leads_by_how_long_it_was_there() -> None:
    rec = recording()
    rec.tick(tick(1.0, {"n1": "Ready"}))
    rec.tick(tick(2.5, {"n1": "Ready", "n2": "Syncing"}))  # not Ready yet: does not count
    rec.tick(tick(3.0, {"n1": "Ready", "n2": "Ready"}, model="seasonal_naive+naive"))
    rec.tick(tick(5.0, {"n2": "Ready"}))
    first = leads(rec, "cat", 6.0)[0]
    assert first == Lead(ZoneChange(4.0, "zone-b"), True, 1.0, True, "predicted", 4.0)
    assert first.kind == "placed"


def test_a_copy_there_for_longer_than_a_shift_was_kept_not_placed() -> None:
    rec2 = recording()
    rec2.tick(tick(-1.0, {"n2": "Ready"}))
    rec2.tick(tick(5.0, {"n2": "Ready"}))
    held = leads(rec2, "cat", 6.0)[0]
    assert held.kind == "held"
    assert change_line(held, DAY).endswith("a copy was still there from before (for 5 s)")


def test_a_copy_after_the_change_lags_and_none_at_all_is_nan() -> None:
    rec = recording()
    rec.tick(tick(1.0, {"n1": "Ready"}))
    rec.tick(tick(5.5, {"n2": "Ready"}))
    rec.tick(tick(11.0, {"n2": "Ready"}))
    found = leads(rec, "cat", 11.5)
    assert found[0] == Lead(ZoneChange(4.0, "zone-b"), False, 1.5, False, "predicted", 4.0, 5.5)
    assert not found[0].requested_ahead
    assert found[0].kind == "late"
    assert found[1].change.zone == "zone-c" and math.isnan(found[1].seconds)
    assert found[1].kind == "none"
    assert "became Ready there 1.5 s after (reason predicted)" in change_line(found[0], DAY)
    assert change_line(found[1], DAY).endswith("no copy there yet")


def test_a_late_copy_made_before_the_change_was_decided_ahead_and_still_syncing() -> None:
    rec = recording()
    rec.tick(tick(1.0, {"n1": "Ready"}))
    rec.tick(tick(3.0, {"n1": "Ready", "n2": "Pending"}))
    rec.tick(tick(3.5, {"n1": "Ready", "n2": "Syncing"}))
    rec.tick(tick(4.5, {"n2": "Ready"}))
    late = leads(rec, "cat", 5.0)[0]
    assert (late.kind, late.seconds, late.requested, late.requested_ahead) == (
        "late",
        0.5,
        3.0,
        True,
    )
    assert change_line(late, DAY).endswith(
        "became Ready there 0.5 s after (reason predicted); its Replica was made 1.0 s before"
    )
    assert "1 of them made before the change, still syncing" in summary(
        [("all", outcome(rec, 0.0, 5.0))], DAY
    )


def test_a_copy_placed_before_the_forecast_knew_the_day_is_not_credited_to_it() -> None:
    lucky = Lead(ZoneChange(4.0, "zone-b"), True, 2.0, False, "predicted", 4.0)
    text = change_line(lucky, DAY)
    assert text.startswith(
        "day  0.33: demand moves to zone-b: a copy was placed there 2.0 s before"
    )
    assert text.endswith("the forecast had not learned the day: not from it")
    assert "not from it" not in change_line(Lead(lucky.change, True, 2.0, True, "predicted"), DAY)


def test_local_hits_modelled_latency_and_replica_days() -> None:
    rec = recording()
    rec.tick(tick(0.0, {"n1": "Ready"}))  # cat: one copy, on n1 (zone-a)
    for _ in range(8):
        rec.read("cat", "n1", 0.2, "local", 1.0)
    rec.read("cat", "n2", 0.3, "remote", 3.0)  # from zone-b: no copy in its zone: 2 ms
    rec.read("cat", "n2", 0.4, None, 0.0)  # failed
    rec.read("cat", "n3", 5.0, "remote", 2.0)  # second 5: outside the window below
    result = policy_outcome(rec, "cat", 0.0, 2.0)
    assert (result.reads, result.local, result.errors) == (9, 8, 1)
    assert result.local_ratio == pytest.approx(8 / 9)
    assert result.modelled_mean_ms == pytest.approx((8 * 0.1 + 2.0) / 9)
    assert result.measured_mean_ms == pytest.approx((8 * 1.0 + 3.0) / 9)
    assert result.replica_days == pytest.approx(1 * 2.0 / DAY)  # one copy for 2 s


def test_a_remote_read_within_the_zone_is_modelled_at_same_zone_latency() -> None:
    rec = Recording(
        rec0 := recording().schedule, {"n1": "zone-a", "n4": "zone-a"}, {"cat": "predictive"}
    )
    assert rec0.day_s == DAY
    rec.tick(Tick(0.0, {"cat": (Copy("n1", "zone-a", "Ready", "minimum"),)}))
    rec.read("cat", "n4", 0.5, "remote", 1.0)
    assert policy_outcome(rec, "cat", 0.0, 1.0).modelled_mean_ms == pytest.approx(0.5)


def test_outcome_lists_every_policy_and_the_zone_changes_in_its_window() -> None:
    rec = recording()
    rec.tick(tick(0.0, {"n1": "Ready"}))
    rec.tick(tick(3.5, {"n1": "Ready", "n2": "Ready"}))
    rec.read("cat", "n1", 0.1, "local", 1.0)
    rec.read("cat-static", "n1", 0.1, "local", 1.0)
    rec.read("cat", "n2", 9.5, "remote", 1.0)
    result = outcome(rec)
    assert [p.resource for p in result.policies] == ["cat", "cat-static"]
    assert [(c.change.zone, c.ahead) for c in result.leads] == [("zone-b", True), ("zone-c", False)]
    assert outcome(rec, start=5.0).leads[0].change.zone == "zone-c"


def test_learned_at_is_the_first_tick_with_a_seasonal_model() -> None:
    rec = recording()
    rec.tick(tick(1.0, {"n1": "Ready"}))
    assert learned_at(rec) is None
    rec.tick(tick(2.0, {"n1": "Ready"}, model="profile+naive"))
    rec.tick(tick(3.0, {"n1": "Ready"}, model="seasonal_naive"))
    assert learned_at(rec) == 2.0


def test_the_live_view_on_a_terminal_and_as_plain_lines() -> None:
    rec = recording()
    rec.tick(tick(0.0, {"n1": "Ready", "n2": "Syncing"}))
    for _ in range(10):
        rec.read("cat", "n1", 1.5, "local", 1.0)
        rec.read("cat-static", "n1", 1.5, "remote", 1.0)
    rec.decision(Decision(0.5, "cat", "ReplicaAdded", "add replica on n2 (reason predicted)"))
    assert zone_reads(rec, 1) == {"zone-a": 10.0, "zone-b": 0.0, "zone-c": 0.0}
    text = screen(rec, 2.5, days=3)
    assert text.startswith("statecast demo: follow-the-sun over 3 zones, day 0.21 of 3")
    assert "zone-a *   10        8.0 (6.0-10.0)    n1               n1\n" in text
    assert "n2(Syncing)" in text
    assert "local hits, last day: predictive 100%, static 0%" in text
    assert "ReplicaAdded    add replica on n2 (reason predicted)" in text
    plain = line(rec, 2.5)
    assert plain.startswith("day  0.21 busy zone-a | reads/s a=10 b=0 c=0 | forecast a=8.0 b=2.0")
    assert "| predictive a:n1 b:n2(Syncing) c:- | static a:n1 b:n2 c:n3 |" in plain
    assert plain.endswith("local hits (last day) predictive 100% static 0%")


def test_the_summary_compares_the_policies_per_window() -> None:
    rec = recording()
    rec.tick(tick(0.0, {"n1": "Ready"}))
    rec.tick(tick(3.0, {"n1": "Ready", "n2": "Ready"}, model="seasonal_naive"))
    rec.read("cat", "n1", 0.5, "local", 1.0)
    rec.read("cat-static", "n1", 0.5, "remote", 2.0)
    text = summary([("all", outcome(rec, 0.0, 5.0))], DAY)
    assert "all (days 0.0-0.4):" in text
    assert "  predictive (catalog)" not in text
    assert "  predictive (cat)      100%         1.00 / 1.00   0.10          0.6" in text
    assert "  static (cat-static)   0%           2.00 / 2.00" in text
    assert (
        "zone changes, a copy in the new zone: placed ahead 1 of 1 (median 1.0 s ahead), "
        "there from before 0, late 0\n" in text
    )


def test_placement_spans_and_the_picture(tmp_path: Path) -> None:
    rec = recording()
    rec.tick(tick(0.0, {"n1": "Ready"}))
    rec.tick(tick(2.0, {"n1": "Ready", "n2": "Syncing"}))
    rec.tick(tick(6.0, {"n2": "Ready"}))
    rec.tick(tick(9.0, {"n2": "Lost"}))  # a lost copy holds nothing
    spans = placement_spans(rec, "cat", 10.0)
    assert [(s.node, s.start, s.end) for s in spans] == [("n1", 0.0, 6.0), ("n2", 2.0, 9.0)]
    for second in range(10):
        rec.read("cat", "n1", second + 0.1, "local", 1.0)
    path = tmp_path / "demo.png"
    draw(rec, 10.0, path, notes=["a note"])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
