"""A fifth service needs no change to the runtime or the generator: both accept it as is."""

from pathlib import Path
from uuid import uuid4

from ensemble_contracts.referral import ReferralEvent, ReferralEventType
from ensemble_devkit import service_map
from ensemble_devkit.testkit import ServiceKit, tokens

from .fifth_service import DEFINITION


def accepted() -> ReferralEvent:
    return ReferralEvent(
        event_type=ReferralEventType.ACCEPTED,
        producer="referral",
        nhs_number="9990000018",
        referral_id=uuid4(),
        practice_ods="L85001",
        service="health_coaching",
        source="gp",
        status="accepted",
    )


async def test_the_runtime_builds_and_runs_a_fifth_service(tmp_path: Path) -> None:
    kit = ServiceKit(
        DEFINITION, f"sqlite:///{tmp_path / 'audit.db'}", staff_tokens=tokens("staff", "ops")
    )
    try:
        event = accepted()
        assert kit.consume(event, event) == ["processed", "duplicate"]
        async with kit.client("staff", "ops") as http:
            response = await http.get("/v1/audit")
        assert response.status_code == 200
        assert response.json() == {
            "entries": [{"referral_id": str(event.referral_id), "decision": "accepted"}],
            "count": 1,
        }
    finally:
        kit.dispose()


def test_the_service_map_lists_a_fifth_service() -> None:
    definitions = [*service_map.load_definitions(), DEFINITION]
    table = service_map.topic_table(definitions)
    row = next(line for line in table.splitlines() if line.startswith("| `referral.referrals.v1`"))
    assert "audit / `audit.referrals`: accepted, declined" in row
    assert '-->|"audit.referrals"| svc_audit' in service_map.flowchart(definitions)
    receives = [op for op in service_map.operations(definitions) if op.service == "audit"]
    assert {op.id for op in receives} == {
        "audit_referrals_receives_referral_referrals_v1",
        "audit_sends_referral_referrals_v1_dlq",
    }
