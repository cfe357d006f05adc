"""The feed's store on SQLite and PostgreSQL: receive, dedupe, hold, reject, alerts."""

from ensemble_contracts.hospital import EncounterEventType as T
from hospital_feed.entrypoints.kafka import SUBSCRIPTIONS

from ..samples import RCB_A01, adt
from ..support import alerts, msa, published_events, receive, service_on, stored


def test_receive_dedupe_hold_reject_and_alerts(database_url: str) -> None:
    service = service_on(database_url)
    engine = service.engine
    try:
        assert msa(receive(engine, RCB_A01)) == "MSA|AA|RCB0000001|"
        assert msa(receive(engine, RCB_A01)) == "MSA|AA|RCB0000001|"  # resend
        assert msa(receive(engine, RCB_A01.replace("RCB0000001", "RCB0000002"))).startswith(
            "MSA|AA|"
        )  # same event, new MSH-10
        assert msa(receive(engine, adt(nhs="9999999999", control_id="H1"))) == "MSA|AA|H1|"
        assert msa(receive(engine, adt(admit_at="bad", control_id="R1"))).startswith("MSA|AE|R1|")
        assert msa(receive(engine, adt("A11", visit="V00123", control_id="X1"))) == "MSA|AA|X1|"
        assert [(m.status, m.control_id) for m in stored(engine)] == [
            ("accepted", "RCB0000001"),
            ("duplicate", "RCB0000002"),
            ("held", "H1"),
            ("rejected", "R1"),
            ("accepted", "X1"),
        ]
        admitted, cancelled = published_events(engine)
        assert (admitted.event_type, cancelled.event_type) == (T.ADMITTED, T.ADMISSION_CANCELLED)
        assert admitted.event_at is not None and admitted.event_at.utcoffset() is not None

        consumers, subscription = service.runtime.consumers, SUBSCRIPTIONS[0]
        outcomes = [consumers.apply(subscription, e) for e in (admitted, admitted, cancelled)]
        assert outcomes == ["processed", "duplicate", "processed"]
        assert [(a.practice_ods, a.nhs_number, a.kind, a.status) for a in alerts(engine)] == [
            ("L85001", "9990000018", "admitted", "retracted"),
            ("L85001", "9990000018", "admission_cancelled", "active"),
        ]
        assert alerts(engine)[0].event_at is not None
    finally:
        engine.dispose()
