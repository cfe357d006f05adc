"""A visit's ADT triggers pushed over MLLP by python-hl7's client (not ours), in and out of
order, repeated and late, with a merge: the visit state kept, the events on
hospital.encounters.v1 and the practice alerts are right (ADR 9)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import hl7.client
import pytest

from ensemble_contracts.hospital import EncounterEvent
from ensemble_contracts.hospital import EncounterEventType as T
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from ensemble_devkit.synthetic import adt_message

from ..conftest import MLLP_PORT
from ..flow import Ensemble, fresh_nhs_numbers, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]
DAY = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)


def message(trigger: str, nhs: str, visit: str, hours: float, **fields: Any) -> str:
    """An ADT message in original acknowledgement mode (no MSH-15/16): one ACK each."""
    practice = fields.pop("practice", "L85001")
    text = adt_message(
        trigger,
        nhs,
        practice,
        f"{trigger}-{nhs}-{visit}-{hours}-{fields.pop('tag', '')}",
        visit,
        event_at=DAY + timedelta(hours=hours),
        **fields,
    )
    return text.replace("|P|2.4|||AL|NE", "|P|2.4")


def events_of(ensemble: Ensemble, nhs_numbers: set[str], how_many: int) -> list[EncounterEvent]:
    """The encounter events of these patients on the topic, read from its beginning."""
    raw = ensemble.topic_records(HOSPITAL_ENCOUNTERS.name, nhs_numbers, how_many)
    return [EncounterEvent.model_validate_json(event) for event in raw]


def test_a_visit_pushed_over_mllp_in_and_out_of_order_ends_right(ensemble: Ensemble) -> None:
    retired, surviving = fresh_nhs_numbers(2)
    first, second = f"V1-{retired}", f"V2-{retired}"
    pushed = [
        message("A03", retired, first, 14),  # the discharge before its admission
        message("A01", retired, first, 9),  # the late admission: history only
        message("A01", retired, first, 9, tag="again"),  # a repeat under a new MSH-10
        message("A08", retired, first, 8, patient_class="O"),  # older than the visit
        message("A01", retired, second, 30, location="WARD1^BED1^RCB"),
        message("A02", retired, second, 31, location="WARD9^BED2^RCB"),
        message("A12", retired, second, 31.5, location="WARD9^BED2^RCB"),
        message("A21", retired, second, 32),
        message("A22", retired, second, 38),
        message("A31", retired, "", 39, practice="L85002"),  # a new registered practice
        message("A40", surviving, "", 40, practice=None) + f"MRG|{retired}^^^NHS^NH\r",
        message("A40", surviving, "", 40, practice=None, tag="again") + f"MRG|{retired}^^^NHS^NH\r",
        message("A03", retired, second, 50, practice=None),  # late, under the retired number
    ]
    client = hl7.client.MLLPClient("127.0.0.1", MLLP_PORT)
    try:
        acks = [client.send_message(text).decode() for text in pushed]
    finally:
        client.close()
    assert all("MSA|AA|" in ack for ack in acks), acks

    # Order holds per patient (the key), not across the two patients' partitions.
    events = events_of(ensemble, {retired, surviving}, 10)
    by_retired = [e for e in events if e.nhs_number == retired]
    by_surviving = [e for e in events if e.nhs_number == surviving]
    assert [e.event_type for e in by_retired] == [
        T.DISCHARGED,
        T.ADMITTED,
        T.ADMITTED,
        T.TRANSFERRED,
        T.TRANSFER_CANCELLED,
        T.LEAVE_STARTED,
        T.LEAVE_ENDED,
        T.PRACTICE_CHANGED,
    ]
    assert [e.event_type for e in by_surviving] == [T.MERGED, T.DISCHARGED]
    late_admission, (merged, last) = by_retired[1], by_surviving
    assert late_admission.discharged_at == by_retired[0].event_at
    assert merged.merged_from_nhs_number == retired
    assert (last.visit_number, last.practice_ods) == (second, "L85002")  # re-routed
    assert by_retired[4].location == "WARD1 BED1 RCB"  # the transfer undone
    assert by_retired[7].previous_practice_ods == "L85001"

    # Both visits are the surviving patient's now, and both are over.
    assert wait_for(
        lambda: (
            ensemble.count(
                "hospital-feed",
                "SELECT count(*) FROM visits WHERE nhs_number = ? AND status = 'discharged'",
                surviving,
            )
            == 2
        ),
        20,
        "both visits discharged under the surviving number",
    )

    def kinds(ods: str, nhs: str) -> list[tuple[str, str]]:
        return [(a["kind"], a["status"]) for a in ensemble.alerts_for(ods, nhs)]

    wait_for(lambda: len(kinds("L85001", retired)) == 6, 30, "the first practice's alerts")
    assert sorted(kinds("L85001", retired)) == sorted(
        [
            ("discharged", "active"),  # no "admitted" for the visit already over
            ("admitted", "active"),
            ("transferred", "retracted"),
            ("transfer_cancelled", "active"),
            ("leave_started", "active"),
            ("leave_ended", "active"),
        ]
    )
    wait_for(lambda: kinds("L85002", surviving), 30, "the new practice's discharge alert")
    assert kinds("L85002", retired) == [("practice_changed", "active")]
    assert kinds("L85002", surviving) == [("discharged", "active")]  # the merge: no alert
