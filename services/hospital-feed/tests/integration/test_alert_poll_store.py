"""A practice's unfiltered poll (prepared statements) shows every alert exactly as the filtered
list (the ORM's query) does, on SQLite and PostgreSQL: same JSON, byte for byte."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import event
from sqlmodel import Session

from ensemble_contracts.limits import EARLIEST
from hospital_feed.adapters import views
from hospital_feed.adapters.orm import PatientCaseload, PatientRisk, PracticeAlert

from ..support import FeedKit, feed_kit

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=6)  # alerts of T0 about high-risk patients are overdue
OPTIONS: dict[str, Any] = {"now": NOW, "overdue_after": timedelta(minutes=240)}
CARED_FOR = "9990000018"  # high risk, two caseloads
NO_RISK = "9990000026"  # no risk row, one caseload
ODD_REASONS = "9990000034"  # risk whose reasons are no JSON list
PLAIN = "9434765919"  # risk, no caseload


def _risk(nhs: str, band: str, reasons: str) -> PatientRisk:
    return PatientRisk(
        nhs_number=nhs,
        band=band,
        score=61,
        model_version="v2",
        reasons=reasons,
        scored_at=T0,
        event_id=uuid4(),
    )


def _caseload(nhs: str, service: str, status: str) -> PatientCaseload:
    return PatientCaseload(
        nhs_number=nhs,
        service=service,
        referral_id=uuid4(),
        status=status,
        practice_ods="L85001",
        updated_at=T0,
        event_id=uuid4(),
    )


def _alert(n: int, nhs: str, practice: str = "L85001", **fields: Any) -> PracticeAlert:
    values: dict[str, Any] = {
        "practice_ods": practice,
        "nhs_number": nhs,
        "kind": "admitted",
        "encounter_event_id": uuid4(),
        "sending_facility": "RCB",
        "visit_number": f"V{n}",
        "location": "Ward 7^Bed 3 ünï",
        "event_at": T0 - timedelta(minutes=n),
        "created_at": T0 + timedelta(seconds=n),
    }
    return PracticeAlert(**(values | fields))


def seed(kit: FeedKit) -> None:
    reasons = [{"factor": "age", "points": 20, "detail": "aged 85\x00"}, "not a reason"]
    with Session(kit.service.engine) as session:
        session.add_all(
            [
                _risk(CARED_FOR, "high", json.dumps(reasons)),
                _risk(ODD_REASONS, "low", "{not json"),
                _risk(PLAIN, "moderate", json.dumps({"factor": "a dict, not a list"})),
                _caseload(CARED_FOR, "health_coaching", "requested"),
                _caseload(CARED_FOR, "complex_care", "accepted"),
                _caseload(NO_RISK, "complex_care", "declined"),
            ]
        )
        session.add_all(
            [
                _alert(1, CARED_FOR, emergency=True),
                _alert(2, NO_RISK, kind="discharged", disposition="01", emergency=False),
                _alert(3, ODD_REASONS, visit_number=None, location=None, event_at=None),
                _alert(4, CARED_FOR, practice="L85002"),  # another practice's
                _alert(
                    5,
                    CARED_FOR,
                    kind="ae_attendance",
                    status="retracted",
                    retracted_by_event_id=uuid4(),
                    recipient_reason="roster",
                ),
                _alert(6, PLAIN, seen_at=T0, seen_by="alice"),
                _alert(
                    7,
                    CARED_FOR,
                    seen_at=T0,
                    seen_by="alice",
                    actioned_at=T0 + timedelta(minutes=5),
                    actioned_by="bob",
                    outcome="called_patient",
                ),
                _alert(8, CARED_FOR, kind="hot_onboarding", created_at=NOW),  # not overdue yet
            ]
        )
        session.commit()


@pytest.fixture
def kit(database_url: str) -> Iterator[FeedKit]:
    made = feed_kit(database_url)
    seed(made)
    yield made
    made.dispose()


@pytest.fixture
def orm_statements(kit: FeedKit) -> Iterator[list[str]]:
    """SELECTs run through SQLAlchemy's execution (prepared statements fire no such event)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        if args[2].lstrip().upper().startswith("SELECT"):
            seen.append(args[2])

    event.listen(kit.service.engine, "before_cursor_execute", record)
    yield seen
    event.remove(kit.service.engine, "before_cursor_execute", record)


def _encoded(page: list[dict[str, Any]]) -> str:
    return json.dumps(page, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize(("after", "limit"), [(0, 100), (0, 3), (2, 2), (5, 100)])
def test_the_poll_and_the_orm_list_give_the_same_json(
    kit: FeedKit, orm_statements: list[str], after: int, limit: int
) -> None:
    polled = kit.read(partial(views.practice_alerts, **OPTIONS), "L85001", after, limit)
    assert orm_statements == []  # the prepared statements only
    # A filter that keeps every alert takes the ORM's query.
    listed = kit.read(
        partial(views.practice_alerts, since=EARLIEST, **OPTIONS), "L85001", after, limit
    )
    assert len(orm_statements) == 2
    assert polled, "the page is not empty"
    assert _encoded(polled) == _encoded(listed)
    assert [list(view) for view in polled] == [list(view) for view in listed]  # key order


def test_the_poll_shows_risk_caseloads_and_their_absence(kit: FeedKit) -> None:
    page = {
        view["alert_id"]: view
        for view in kit.read(partial(views.practice_alerts, **OPTIONS), "L85001", 0, 100)
    }
    first, no_risk, odd, retracted, seen, actioned, fresh = page.values()
    assert len(page) == 7  # L85002's alert is not listed
    assert (first["risk_band"], first["risk_score"], first["overdue"]) == ("high", 61, True)
    assert first["risk_reasons"] == [{"factor": "age", "points": 20, "detail": "aged 85\x00"}]
    assert first["caseload"] == [
        {"service": "complex_care", "status": "accepted"},
        {"service": "health_coaching", "status": "requested"},
    ]
    assert (first["emergency"], first["title"]) == (True, "Emergency admission")
    assert first["created_at"] == (T0 + timedelta(seconds=1)).isoformat()
    assert (no_risk["risk_band"], no_risk["risk_score"]) == (None, None)
    assert (no_risk["risk_reasons"], no_risk["risk_model_version"]) == ([], None)
    assert no_risk["caseload"] == [{"service": "complex_care", "status": "declined"}]
    assert (odd["risk_reasons"], odd["caseload"], odd["event_at"]) == ([], [], None)
    assert (retracted["status"], retracted["overdue"]) == ("retracted", False)
    assert retracted["retracted_by_event_id"] is not None
    assert (seen["state"], actioned["state"], actioned["outcome"]) == (
        "seen",
        "actioned",
        "called_patient",
    )
    assert (actioned["overdue"], fresh["overdue"]) == (False, False)


def test_the_stream_s_tick_reads_new_alerts_of_every_practice(kit: FeedKit) -> None:
    newest = kit.read(views.newest_alert_id)
    assert kit.read(views.practice_alerts, "L85001", newest, 100) == []
    assert kit.read(views.alerts_after, newest, 10) == []
    assert [practice for _, practice in kit.read(views.alerts_after, 3, 2)] == ["L85002", "L85001"]
