"""Alerts worth reading (issue 9): what happened (emergency or elective, a death), the
patient's risk and caseloads, hot onboarding proposals, filters and paging."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import event

from ensemble_contracts.hospital import EncounterEvent
from ensemble_contracts.referral import ReferralEvent, ReferralEventType
from ensemble_contracts.scoring import (
    HotOnboarding,
    HotOnboardingEventType,
    ScoreChanged,
    ScoreReason,
)
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS, HOT_ONBOARDING, REFERRALS, SCORE_CHANGES
from hospital_feed.adapters import views
from hospital_feed.domain.acknowledgement import AlertState, Outcome
from hospital_feed.domain.encounters import has_died
from hospital_feed.domain.hl7_message import parse_adt
from hospital_feed.service import DEFINITION
from hospital_feed.service_layer import handlers
from hospital_feed.service_layer.commands import AcknowledgeAlert

from ..samples import adt
from ..support import FeedKit, alerts, receive

REFERRAL_V1_TYPES = REFERRALS.event_types[:5]  # proposed .. withdrawn

NHS = "9990000018"
OTHER = "9990000026"
ALERTS = "/v1/practices/L85001/alerts"


def with_death(raw: str, died_at: str = "", indicator: str = "") -> str:
    """The message with PID-29 (death date and time) and PID-30 (death indicator) set."""
    segments = raw.split("\r")
    for index, segment in enumerate(segments):
        if segment.startswith("PID|"):
            fields = segment.split("|") + [""] * 31
            fields[29], fields[30] = died_at, indicator
            segments[index] = "|".join(fields[:31])
    return "\r".join(segments)


def admit(kit: FeedKit, raw: str) -> EncounterEvent:
    """Receive one ADT message (intake projects its alerts) and hand the alerts consumer what
    it published, which it finds done: that event."""
    before = len(kit.published(HOSPITAL_ENCOUNTERS))
    receive(kit, raw)
    (published,) = kit.published(HOSPITAL_ENCOUNTERS)[before:]
    assert kit.consume(published) == ["duplicate"]
    return published


def score(
    nhs: str = NHS, band: str = "high", points: int = 42, at: datetime | None = None
) -> ScoreChanged:
    return ScoreChanged.model_validate(
        {
            "producer": "scoring",
            "nhs_number": nhs,
            "band": band,
            "score": points,
            "model_version": "v2",
            "occurred_at": at or datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
            "reasons": [
                ScoreReason(factor="priority_conditions", points=30, detail="COPD and CHF"),
                ScoreReason(factor="age", points=points - 30, detail="aged 85"),
            ],
        }
    )


def referral(
    service: str, status: str, at: datetime, nhs: str = NHS, referral_id: UUID | None = None
) -> ReferralEvent:
    return ReferralEvent.model_validate(
        {
            "event_type": f"referral.{status}",
            "producer": "referral",
            "nhs_number": nhs,
            "referral_id": referral_id or uuid4(),
            "practice_ods": "L85001",
            "service": service,
            "source": "gp",
            "status": status,
            "occurred_at": at,
        }
    )


def hot(event_type: str = HotOnboardingEventType.TRIGGERED, **fields: Any) -> HotOnboarding:
    base: dict[str, Any] = {
        "event_type": event_type,
        "producer": "scoring",
        "nhs_number": NHS,
        "practice_ods": "L85001",
        "band": "very_high",
        "score": 80,
        "model_version": "v2",
        "trigger": "admission",
        "trigger_event_id": uuid4(),
        "occurred_at": datetime(2026, 11, 23, 8, 30, tzinfo=UTC),
    }
    return HotOnboarding.model_validate(base | fields)


async def listing(kit: FeedKit, ods: str = "L85001", **params: Any) -> dict[str, Any]:
    async with kit.client("practice", ods) as practice:
        response = await practice.get(f"/v1/practices/{ods}/alerts", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- the subscriptions ---------------------------------------------------------------------------


def test_the_service_subscribes_to_risk_caseloads_and_hot_onboarding() -> None:
    by_topic = {s.topic.name: s for s in DEFINITION.subscriptions}
    assert set(by_topic) == {
        t.name for t in (HOSPITAL_ENCOUNTERS, SCORE_CHANGES, REFERRALS, HOT_ONBOARDING)
    }
    risk = by_topic[SCORE_CHANGES.name]
    assert (risk.group, dict(risk.handlers)) == (
        "hospital-feed.risk",
        {"score.band_changed": handlers.project_risk},
    )
    caseloads = by_topic[REFERRALS.name]
    assert caseloads.group == "hospital-feed.caseloads"
    # Every type that moves the status on; an SLA breach (status unchanged) is skipped.
    assert set(caseloads.handlers) == set(REFERRALS.event_types) - {"referral.sla_breached"}
    assert set(caseloads.handlers.values()) == {handlers.project_caseload}
    onboarding = by_topic[HOT_ONBOARDING.name]
    assert onboarding.group == "hospital-feed.hot-onboarding"
    assert set(onboarding.handlers) == set(HOT_ONBOARDING.event_types)
    assert set(onboarding.handlers.values()) == {handlers.project_hot_onboarding}


# --- what happened ---------------------------------------------------------------------------


async def test_an_emergency_and_an_elective_admission_are_told_apart(kit: FeedKit) -> None:
    admit(kit, adt(control_id="E1", visit="V1", admission_type="21"))
    admit(kit, adt(control_id="E2", visit="V2", admission_type="11", patient_class="I"))
    admit(kit, adt("A04", control_id="E3", visit="V3", patient_class="E", admission_type=""))
    emergency, elective, ae = (await listing(kit))["alerts"]
    assert (emergency["kind"], emergency["emergency"], emergency["title"]) == (
        "admitted",
        True,
        "Emergency admission",
    )
    assert (elective["kind"], elective["emergency"], elective["title"]) == (
        "admitted",
        False,
        "Elective admission",
    )
    assert (ae["kind"], ae["emergency"], ae["title"]) == ("ae_attendance", True, "A&E attendance")
    for alert in (emergency, elective, ae):
        assert (alert["recipient_reason"], alert["disposition"]) == ("registered", None)
        assert (alert["state"], alert["seen_by"], alert["actioned_at"]) == ("new", None, None)


async def test_a_discharge_whose_method_is_death_is_a_death(kit: FeedKit) -> None:
    at = "202611230800"
    died = admit(kit, adt("A03", control_id="D1", visit="V1", disposition="4", discharge_at=at))
    expired = admit(kit, adt("A03", control_id="D2", visit="V2", disposition="20", discharge_at=at))
    home = admit(kit, adt("A03", control_id="D3", visit="V3", disposition="01", discharge_at=at))
    # table 0112 `04` is an intermediate care facility, not NHS discharge method 4
    care = admit(kit, adt("A03", control_id="D4", visit="V4", disposition="04", discharge_at=at))
    assert [e.died for e in (died, expired, home, care)] == [True, True, False, False]
    shown = [(a["kind"], a["title"], a["disposition"]) for a in (await listing(kit))["alerts"]]
    assert shown == [
        ("died", "Death", "4"),
        ("died", "Death", "20"),
        ("discharged", "Discharge", "01"),
        ("discharged", "Discharge", "04"),
    ]


async def test_a_death_indicator_or_death_time_in_pid_is_a_death(kit: FeedKit) -> None:
    flagged = admit(kit, with_death(adt("A03", control_id="P1", visit="V1"), indicator="Y"))
    timed = admit(kit, with_death(adt("A01", control_id="P2", visit="V2"), "202611230745"))
    assert (flagged.died, flagged.died_at) == (True, None)
    assert (timed.died, timed.died_at) == (True, datetime(2026, 11, 23, 7, 45, tzinfo=UTC))
    assert [(a["kind"], a["title"]) for a in (await listing(kit))["alerts"]] == [
        ("died", "Death"),
        ("died", "Death"),
    ]
    # PID-30 N overrides a stray date; a transfer or an update never tells a death
    denied = with_death(adt("A03", control_id="P3"), "202611230745", "N")
    assert not has_died(parse_adt(denied))
    assert not has_died(parse_adt(with_death(adt("A02", control_id="P4"), indicator="Y")))
    assert parse_adt(with_death(adt("A08", control_id="P5"), indicator="y")).death_indicator == "Y"


async def test_a_cancelled_discharge_retracts_the_death_it_told(kit: FeedKit) -> None:
    died = admit(kit, adt("A03", control_id="C1", disposition="4", discharge_at="202611230800"))
    undone = admit(kit, adt("A13", control_id="C2", discharge_at="202611230800"))
    first, second = (await listing(kit))["alerts"]
    assert (first["kind"], first["status"], first["retracted_by_event_id"]) == (
        "died",
        "retracted",
        str(undone.event_id),
    )
    assert (second["kind"], second["status"]) == ("discharge_cancelled", "active")
    assert first["encounter_event_id"] == str(died.event_id)


# --- risk and caseloads --------------------------------------------------------------------------


async def test_the_newest_score_wins_and_is_shown_on_the_alert(kit: FeedKit) -> None:
    newer = score(band="very_high", points=77, at=datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
    older = score(band="low", points=5, at=datetime(2026, 11, 22, 8, 0, tzinfo=UTC))
    assert kit.consume(newer, older) == ["processed", "processed"]
    admit(kit, adt(control_id="R1"))
    (alert,) = (await listing(kit))["alerts"]
    assert (alert["risk_band"], alert["risk_score"], alert["risk_model_version"]) == (
        "very_high",
        77,
        "v2",
    )
    assert alert["risk_reasons"] == [
        {"factor": "priority_conditions", "points": 30, "detail": "COPD and CHF"},
        {"factor": "age", "points": 47, "detail": "aged 85"},
    ]
    later = score(band="moderate", points=20, at=datetime(2026, 11, 23, 8, 30, tzinfo=UTC))
    kit.consume(later)
    (alert,) = (await listing(kit))["alerts"]
    assert (alert["risk_band"], alert["risk_score"]) == ("moderate", 20)


async def test_a_score_from_the_future_cannot_pin_the_band(kit: FeedKit) -> None:
    kit.consume(score(band="very_high", at=kit.clock.now + timedelta(days=365)))
    kit.clock.advance(minutes=10)
    kit.consume(score(band="low", points=3, at=kit.clock.now))
    admit(kit, adt(control_id="F1"))
    (alert,) = (await listing(kit))["alerts"]
    assert alert["risk_band"] == "low"


async def test_an_unscored_patient_shows_no_risk(kit: FeedKit) -> None:
    kit.consume(score(nhs=OTHER))
    admit(kit, adt(control_id="U1"))
    (alert,) = (await listing(kit))["alerts"]
    assert (alert["risk_band"], alert["risk_score"], alert["risk_model_version"]) == (
        None,
        None,
        None,
    )
    assert (alert["risk_reasons"], alert["caseload"], alert["overdue"]) == ([], [], False)


async def test_the_patient_s_caseloads_are_shown_newest_status_first(kit: FeedKit) -> None:
    t = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    care = uuid4()
    kit.consume(
        referral("complex_care", "proposed", t, referral_id=care),
        referral("complex_care", "accepted", t + timedelta(hours=2), referral_id=care),
        referral("complex_care", "requested", t + timedelta(hours=1), referral_id=care),  # late
        referral("health_coaching", "requested", t),
        referral("health_coaching", "declined", t, nhs=OTHER),
    )
    admit(kit, adt(control_id="K1"))
    (alert,) = (await listing(kit))["alerts"]
    assert alert["caseload"] == [
        {"service": "complex_care", "status": "accepted"},
        {"service": "health_coaching", "status": "requested"},
    ]
    every_type = [
        referral("health_coaching", t.split(".")[1], datetime(2026, 11, 21, h, tzinfo=UTC))
        for h, t in enumerate(REFERRAL_V1_TYPES)
    ]
    assert [e.event_type for e in every_type] == [
        ReferralEventType.PROPOSED,
        ReferralEventType.REQUESTED,
        ReferralEventType.ACCEPTED,
        ReferralEventType.DECLINED,
        ReferralEventType.WITHDRAWN,
    ]
    assert set(kit.consume(*every_type)) == {"processed"}
    (alert,) = (await listing(kit))["alerts"]
    assert alert["caseload"][1] == {"service": "health_coaching", "status": "withdrawn"}
    # Schema version 2's lifecycle types move the status on too (here: completed).
    assert kit.consume(
        referral("health_coaching", "completed", datetime(2026, 11, 22, tzinfo=UTC))
    ) == ["processed"]
    (alert,) = (await listing(kit))["alerts"]
    assert alert["caseload"][1] == {"service": "health_coaching", "status": "completed"}


@contextmanager
def statements(kit: FeedKit) -> Iterator[list[str]]:
    """The SQL queries (SELECTs) SQLite runs on the kit's store while in the block: traced by
    the driver, so prepared statements (which fire no SQLAlchemy events) are counted too."""
    seen: list[str] = []

    def record(sql: str) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            seen.append(sql)

    def trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(record)

    engine = kit.service.engine
    engine.dispose()  # the block's connections are new ones, traced
    event.listen(engine, "connect", trace)
    try:
        yield seen
    finally:
        event.remove(engine, "connect", trace)
        engine.dispose()


def test_risk_and_caseloads_cost_the_same_queries_for_one_alert_or_many(kit: FeedKit) -> None:
    numbers = ["9990000018", "9990000026", "9990000034", "9434765919"]
    for n, nhs in enumerate(numbers):
        kit.consume(score(nhs=nhs), referral("complex_care", "accepted", kit.clock.now, nhs=nhs))
        admit(kit, adt(nhs=nhs, control_id=f"Q{n}", visit=f"V{n}"))
    with statements(kit) as one:
        (single,) = kit.read(views.practice_alerts, "L85001", 0, 1)
    with statements(kit) as many:
        page = kit.read(views.practice_alerts, "L85001", 0, 100)
    with statements(kit) as filtered:  # the ORM's query
        high = kit.read(partial(views.practice_alerts, band="high"), "L85001", 0, 100)
    assert len(page) == len(high) == len(numbers)
    assert len(one) == len(many) == len(filtered) == 2
    assert single["caseload"] == [{"service": "complex_care", "status": "accepted"}]
    assert {a["risk_band"] for a in page} == {"high"}
    # A poll that finds nothing new (most of a practice's polls) is one query.
    with statements(kit) as empty:
        assert kit.read(views.practice_alerts, "L85001", page[-1]["alert_id"], 100) == []
    assert len(empty) == 1


# --- hot onboarding ----------------------------------------------------------------------


async def test_a_triggered_hot_onboarding_is_one_alert_and_a_withdrawal_retracts_it(
    kit: FeedKit,
) -> None:
    triggered = hot()
    assert kit.consume(triggered, triggered) == ["processed", "duplicate"]
    kit.run(handlers.project_hot_onboarding, triggered)  # past the inbox too: still one
    (alert,) = (await listing(kit))["alerts"]
    assert (alert["kind"], alert["title"], alert["status"]) == (
        "hot_onboarding",
        "Hot onboarding proposed",
        "active",
    )
    assert alert["encounter_event_id"] == str(triggered.event_id)
    assert (alert["emergency"], alert["location"], alert["visit_number"]) == (False, None, None)
    assert alert["event_at"] == triggered.occurred_at.isoformat()
    assert (await listing(kit, "L85002"))["alerts"] == []

    withdrawn = hot(HotOnboardingEventType.WITHDRAWN, trigger_event_id=triggered.trigger_event_id)
    assert kit.consume(withdrawn) == ["processed"]
    (alert,) = (await listing(kit))["alerts"]
    assert (alert["status"], alert["retracted_by_event_id"]) == (
        "retracted",
        str(withdrawn.event_id),
    )


def test_a_withdrawal_touches_only_that_patient_for_every_recipient(kit: FeedKit) -> None:
    kit.consume(hot(), hot(nhs_number=OTHER), hot(practice_ods="L85002"))
    kit.consume(hot(HotOnboardingEventType.WITHDRAWN))
    assert [(a.practice_ods, a.nhs_number, a.status) for a in alerts(kit)] == [
        ("L85001", NHS, "retracted"),
        ("L85001", OTHER, "active"),
        ("L85002", NHS, "retracted"),  # whoever was told of the patient's proposal
    ]


# --- filters, paging, acknowledgement, isolation ------------------------------------------------


async def test_filters_and_next_after_page_through_the_alerts(kit: FeedKit) -> None:
    kit.consume(score(nhs=NHS, band="very_high"), score(nhs=OTHER, band="low"))
    admit(kit, adt(nhs=NHS, control_id="A1", visit="V1"))  # 1 admitted, very high
    admit(kit, adt(nhs=OTHER, control_id="A2", visit="V2"))  # 2 admitted, low
    kit.clock.advance(hours=1)
    admit(kit, adt("A11", nhs=OTHER, control_id="A3", visit="V2"))  # 3, retracts 2
    kit.consume(hot())  # 4 hot onboarding, very high
    ids = [a["alert_id"] for a in (await listing(kit))["alerts"]]
    assert len(ids) == 4
    first, second, cancel, onboarding = ids
    alert_id = first
    assert kit.execute(AcknowledgeAlert("L85001", alert_id, "ann", AlertState.SEEN))
    done = AcknowledgeAlert("L85001", cancel, "ann", AlertState.ACTIONED, Outcome.NO_ACTION_NEEDED)
    assert kit.execute(done)

    def chosen(body: dict[str, Any]) -> list[int]:
        return [a["alert_id"] for a in body["alerts"]]

    assert chosen(await listing(kit, kind="admitted")) == [first, second]
    assert chosen(await listing(kit, kind="hot_onboarding")) == [onboarding]
    assert chosen(await listing(kit, band="very_high")) == [first, onboarding]
    assert chosen(await listing(kit, band="low")) == [second, cancel]
    assert chosen(await listing(kit, status="retracted")) == [second]
    assert chosen(await listing(kit, state="new")) == [second, onboarding]
    assert chosen(await listing(kit, state="seen")) == [first]
    assert chosen(await listing(kit, state="actioned")) == [cancel]
    since = (kit.clock.now - timedelta(minutes=1)).isoformat()
    assert chosen(await listing(kit, since=since)) == [cancel, onboarding]
    assert chosen(await listing(kit, kind="admitted", band="low", status="active")) == []

    page = await listing(kit, limit=3)
    assert (chosen(page), page["next_after"]) == ([first, second, cancel], cancel)
    rest = await listing(kit, limit=3, after=page["next_after"])
    assert (chosen(rest), rest["next_after"]) == ([onboarding], onboarding)
    end = await listing(kit, limit=3, after=rest["next_after"])
    assert end == {"alerts": [], "next_after": None}
    filtered = await listing(kit, band="very_high", limit=1)
    assert (chosen(filtered), filtered["next_after"]) == ([first], first)
    assert chosen(await listing(kit, band="very_high", after=first)) == [onboarding]


async def test_invalid_filters_are_422(kit: FeedKit) -> None:
    bad = [
        {"kind": "bogus"},
        {"band": "extreme"},
        {"status": "deleted"},
        {"state": "ignored"},
        {"since": "yesterday"},
        {"since": "2026-11-23T09:00:00"},  # no offset: which 9 o'clock?
        {"since": "0001-01-01T00:00:00+14:00"},
    ]
    async with kit.client("practice", "L85001") as practice:
        for params in bad:
            response = await practice.get(ALERTS, params=params)
            assert response.status_code == 422, params


async def test_an_unactioned_alert_about_a_high_risk_patient_goes_overdue(kit: FeedKit) -> None:
    kit.consume(score(nhs=NHS, band="high"), score(nhs=OTHER, band="moderate"))
    admit(kit, adt(nhs=NHS, control_id="O1", visit="V1"))
    admit(kit, adt(nhs=OTHER, control_id="O2", visit="V2"))
    assert [a["overdue"] for a in (await listing(kit))["alerts"]] == [False, False]
    kit.clock.advance(minutes=240)
    high, moderate = (await listing(kit))["alerts"]
    assert (high["overdue"], moderate["overdue"]) == (True, False)
    assert kit.execute(AcknowledgeAlert("L85001", high["alert_id"], "ann", AlertState.SEEN))
    assert (await listing(kit))["alerts"][0]["overdue"]  # seen is not actioned
    actioned = AcknowledgeAlert(
        "L85001", high["alert_id"], "ann", AlertState.ACTIONED, Outcome.CALLED_PATIENT
    )
    assert kit.execute(actioned)
    high = (await listing(kit))["alerts"][0]
    assert (high["overdue"], high["state"], high["outcome"]) == (
        False,
        "actioned",
        "called_patient",
    )
    assert (high["seen_by"], high["actioned_by"]) == ("ann", "ann")


async def test_the_overdue_threshold_is_a_setting(tmp_path: Any) -> None:
    from ..support import feed_kit

    kit = feed_kit(f"sqlite:///{tmp_path / 'feed.db'}", alert_overdue_minutes=30)
    try:
        kit.consume(score(band="very_high"))
        admit(kit, adt(control_id="S1"))
        kit.clock.advance(minutes=29)
        assert not (await listing(kit))["alerts"][0]["overdue"]
        kit.clock.advance(minutes=1)
        assert (await listing(kit))["alerts"][0]["overdue"]
    finally:
        kit.dispose()


async def test_another_practice_never_sees_the_alert(kit: FeedKit) -> None:
    kit.consume(score(), referral("complex_care", "accepted", kit.clock.now), hot())
    admit(kit, adt(control_id="I1", disposition=""))
    mine = (await listing(kit))["alerts"]
    assert [a["kind"] for a in mine] == ["hot_onboarding", "admitted"]
    theirs = await listing(kit, "L85002")
    assert theirs == {"alerts": [], "next_after": None}
    for params in ({}, {"kind": "hot_onboarding"}, {"band": "high"}, {"state": "new"}):
        assert (await listing(kit, "L85002", **params))["alerts"] == []
    async with kit.client("practice", "L85002") as other:
        assert (await other.get(ALERTS)).status_code == 403
