"""Who is told (issue 9): the registered practice and every roster listing the patient, one
alert each; retractions reach everyone told; an event with no recipient is kept and counted."""

from prometheus_client import REGISTRY

from ensemble_contracts.hospital import EncounterEventType as T
from ensemble_contracts.scoring import HotOnboardingEventType
from hospital_feed.adapters import views
from hospital_feed.adapters.rosters import unrouted_alerts
from hospital_feed.domain.rosters import RosterMode, parse_roster
from hospital_feed.service_layer import handlers
from hospital_feed.service_layer.rosters import UploadRoster

from ..support import FeedKit, alerts
from .test_alert_content import hot
from .test_alert_content import statements as selects
from .test_alerts import encounter, project

NHS, OTHER = "9990000018", "9990000026"
UNROUTED = "ensemble_hospital_feed_unrouted_alerts_total"


def follow(kit: FeedKit, recipient: str, *numbers: str) -> None:
    """The recipient's own upload (as with its token) adds these patients to its roster."""
    parsed = parse_roster("\n".join(numbers), recipient=recipient, max_rows=100)
    kit.execute(UploadRoster(parsed, RosterMode.ADD, "practice", "someone", recipient))


def told(kit: FeedKit) -> list[tuple[str, str, str, str]]:
    return [(a.practice_ods, a.kind, a.status, a.recipient_reason) for a in alerts(kit)]


def counted(kind: str, reason: str) -> float:
    return REGISTRY.get_sample_value(UNROUTED, {"kind": kind, "reason": reason}) or 0.0


def test_a_patient_with_no_practice_reaches_every_roster_that_lists_them(kit: FeedKit) -> None:
    follow(kit, "COACH1", NHS)
    follow(kit, "CARE2", NHS, OTHER)
    assert kit.consume(encounter(practice_ods=None)) == ["processed"]
    assert told(kit) == [
        ("CARE2", "admitted", "active", "roster"),
        ("COACH1", "admitted", "active", "roster"),
    ]


def test_the_registered_practice_and_a_roster_get_one_alert_each_registered_first(
    kit: FeedKit,
) -> None:
    follow(kit, "COACH1", NHS)
    follow(kit, "L85001", NHS)  # the registered practice's own roster adds nothing
    event = encounter(practice_ods="L85001")
    kit.consume(event)
    project(kit, event)  # past the inbox too: still one each
    assert told(kit) == [
        ("L85001", "admitted", "active", "registered"),
        ("COACH1", "admitted", "active", "roster"),
    ]
    assert {a.encounter_event_id for a in alerts(kit)} == {event.event_id}


def test_a_cancellation_retracts_every_recipient_s_alert_and_tells_each_of_them(
    kit: FeedKit,
) -> None:
    follow(kit, "COACH1", NHS)
    kit.consume(encounter(), encounter(nhs_number=OTHER))
    cancel = encounter(event_type=T.ADMISSION_CANCELLED, trigger_event="A11", practice_ods=None)
    kit.consume(cancel)
    assert [(a.practice_ods, a.nhs_number, a.kind, a.status) for a in alerts(kit)] == [
        ("L85001", NHS, "admitted", "retracted"),
        ("COACH1", NHS, "admitted", "retracted"),
        ("L85001", OTHER, "admitted", "active"),
        ("COACH1", NHS, "admission_cancelled", "active"),
        ("L85001", NHS, "admission_cancelled", "active"),
    ]
    assert {a.retracted_by_event_id for a in alerts(kit) if a.status == "retracted"} == {
        cancel.event_id
    }


def test_an_event_with_no_recipient_is_kept_once_counted_once_and_never_re_sent(
    kit: FeedKit,
) -> None:
    before = counted("admitted", "no_registered_practice")
    event = encounter(practice_ods=None, sending_facility="RCB")
    assert kit.consume(event) == ["processed"]
    assert kit.consume(event) == ["duplicate"]
    project(kit, event)  # past the inbox: the same row, not counted again
    assert alerts(kit) == []
    assert counted("admitted", "no_registered_practice") == before + 1
    follow(kit, "COACH1", NHS)  # a roster listing the patient later: nothing is re-sent
    assert alerts(kit) == []
    listing = kit.read(unrouted_alerts, 10)
    assert listing["count"] == 1
    (shown,) = listing["newest"]
    assert (shown["event_id"], shown["kind"], shown["reason"], shown["sending_facility"]) == (
        str(event.event_id),
        "admitted",
        "no_registered_practice",
        "RCB",
    )
    assert "nhs_number" not in shown


def test_an_unusable_practice_code_still_reaches_the_roster_or_is_unrouted(kit: FeedKit) -> None:
    before = counted("discharged", "unusable_practice_code")
    follow(kit, "COACH1", OTHER)
    kit.consume(
        encounter(practice_ods="L85\x0001", nhs_number=OTHER),
        encounter(practice_ods="L85\x0001", event_type=T.DISCHARGED, trigger_event="A03"),
    )
    assert told(kit) == [("COACH1", "admitted", "active", "roster")]
    assert counted("discharged", "unusable_practice_code") == before + 1


def test_hot_onboarding_reaches_the_rosters_and_a_withdrawal_retracts_everyone_s(
    kit: FeedKit,
) -> None:
    follow(kit, "COACH1", NHS)
    triggered = hot()
    kit.consume(triggered)
    kit.run(handlers.project_hot_onboarding, triggered)  # past the inbox: still one each
    assert told(kit) == [
        ("L85001", "hot_onboarding", "active", "registered"),
        ("COACH1", "hot_onboarding", "active", "roster"),
    ]
    kit.consume(hot(HotOnboardingEventType.WITHDRAWN))
    assert {a.status for a in alerts(kit)} == {"retracted"}


def test_hot_onboarding_with_no_usable_practice_and_no_roster_is_unrouted(kit: FeedKit) -> None:
    before = counted("hot_onboarding", "unusable_practice_code")
    kit.consume(hot(practice_ods="L85\x0001"))
    assert alerts(kit) == []
    assert counted("hot_onboarding", "unusable_practice_code") == before + 1
    assert kit.read(unrouted_alerts, 10)["count"] == 1


def test_a_care_team_s_alerts_cost_the_list_what_a_practice_s_do(kit: FeedKit) -> None:
    follow(kit, "COACH1", NHS, OTHER)
    kit.consume(encounter(practice_ods=None), encounter(nhs_number=OTHER, practice_ods=None))
    with selects(kit) as queries:
        page = kit.read(views.practice_alerts, "COACH1", 0, 100)
    assert [a["recipient_reason"] for a in page] == ["roster", "roster"]
    assert len(queries) == 2  # the alerts with their risk, and the caseloads: as before
