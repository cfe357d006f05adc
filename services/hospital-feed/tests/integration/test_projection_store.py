"""The risk and caseload projections on SQLite and PostgreSQL: the newest fact wins."""

import json
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from sqlmodel import Session, col, select

from ensemble_contracts.referral import ReferralEvent
from ensemble_contracts.scoring import ScoreChanged
from hospital_feed.adapters.orm import PatientCaseload, PatientRisk

from ..support import feed_kit

NHS = "9990000018"
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def score(band: str, points: int, at: datetime) -> ScoreChanged:
    return ScoreChanged(
        producer="scoring",
        nhs_number=NHS,
        band=band,
        score=points,
        model_version=f"v-{band}",
        occurred_at=at,
        reasons=[{"factor": "age", "points": points, "detail": f"{band}\x00 ok"}],
    )


def test_the_newest_score_wins_whatever_the_order(database_url: str) -> None:
    kit = feed_kit(database_url)
    try:
        newest = score("very_high", 80, T0 + timedelta(hours=2))
        older = score("low", 3, T0)
        middle = score("moderate", 20, T0 + timedelta(hours=1))
        assert kit.consume(newest, older, middle) == ["processed"] * 3

        def risks(session: Session) -> list[PatientRisk]:
            return list(session.exec(select(PatientRisk)))

        (held,) = kit.read(risks)
        assert (held.band, held.score, held.model_version) == ("very_high", 80, "v-very_high")
        assert (held.scored_at, held.event_id) == (newest.occurred_at, newest.event_id)
        # NUL in a reason is kept, escaped in the JSON, on both stores
        assert json.loads(held.reasons) == [
            {"factor": "age", "points": 80, "detail": "very_high\x00 ok"}
        ]
        later = score("high", 50, T0 + timedelta(hours=3))
        kit.consume(later)
        (held,) = kit.read(risks)
        assert (held.band, held.event_id) == ("high", later.event_id)
    finally:
        kit.dispose()


def test_the_newest_referral_status_wins_per_service(database_url: str) -> None:
    kit = feed_kit(database_url)
    try:
        care = uuid4()

        def referral(service: str, status: str, at: datetime) -> ReferralEvent:
            return ReferralEvent(
                event_type=f"referral.{status}",
                producer="referral",
                nhs_number=NHS,
                referral_id=care,
                practice_ods="L85001",
                service=service,
                source="gp",
                status=status,
                occurred_at=at,
            )

        kit.consume(
            referral("complex_care", "accepted", T0 + timedelta(hours=1)),
            referral("complex_care", "requested", T0),
            referral("health_coaching", "proposed", T0),
        )

        def caseloads(session: Session) -> list[tuple[str, str]]:
            rows = session.exec(select(PatientCaseload).order_by(col(PatientCaseload.service)))
            return [(row.service, row.status) for row in rows]

        assert kit.read(caseloads) == [
            ("complex_care", "accepted"),
            ("health_coaching", "proposed"),
        ]
    finally:
        kit.dispose()
