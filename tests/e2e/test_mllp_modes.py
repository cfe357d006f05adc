"""Enhanced acknowledgement mode and a batch file pushed over MLLP by python-hl7's client (not
ours) to the running hospital-feed process: the ACK frames an engine reads, and every message
stored once and published."""

import uuid
from functools import partial

import hl7
import hl7.client
import pytest

from ensemble_devkit.synthetic import adt_message

from ..conftest import MLLP_PORT
from ..flow import Ensemble, fresh_nhs_numbers, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]
END = hl7.client.EB + hl7.client.CR


def admission(nhs: str, control_id: str, modes: str = "") -> str:
    """An A01 with MSH-15/16 `modes` (e.g. `AL|AL`; empty: original mode)."""
    text = adt_message("A01", nhs, "L85001", control_id, f"V-{control_id}")
    return text.replace("|P|2.4|||AL|NE", f"|P|2.4|||{modes}" if modes else "|P|2.4")


def frames(client: hl7.client.MLLPClient, first: bytes, count: int) -> list[str]:
    """`count` ACK frames: those in `first` (what send_message read), then more reads."""
    buffer = first
    while buffer.count(END) < count:
        chunk = client.socket.recv(4096)
        assert chunk, "hospital-feed closed the connection"
        buffer += chunk
    return [part[1:].decode() for part in buffer.split(END)[:count]]


def msa(ack: str) -> tuple[str, str]:
    segment = hl7.parse(ack).segment("MSA")
    return str(segment[1]), str(segment[2])


def test_enhanced_mode_and_a_batch_over_mllp(ensemble: Ensemble) -> None:
    run = uuid.uuid4().hex[:8]
    enhanced, itk, first, second = fresh_nhs_numbers(4)
    batch = "\r".join(
        [
            f"BHS|^~\\&|PAS|RCB|ENSEMBLE|ENSEMBLE|20261122||||B-{run}",
            admission(first, f"B1-{run}").rstrip("\r"),
            admission(second, f"B2-{run}").rstrip("\r"),
            "BTS|2",
        ]
    )
    client = hl7.client.MLLPClient("127.0.0.1", MLLP_PORT)
    client.socket.settimeout(30)
    try:
        both = frames(client, client.send_message(admission(enhanced, f"E-{run}", "AL|AL")), 2)
        commit_only = frames(client, client.send_message(admission(itk, f"I-{run}", "AL|NE")), 1)
        (response,) = frames(client, client.send_message(batch), 1)
    finally:
        client.close()

    assert [msa(ack) for ack in both] == [("CA", f"E-{run}"), ("AA", f"E-{run}")]
    assert [msa(ack) for ack in commit_only] == [("CA", f"I-{run}")]
    answered = hl7.parse_batch(response)
    assert [msa(str(m)) for m in answered] == [("AA", f"B1-{run}"), ("AA", f"B2-{run}")]
    assert str(answered.header[12]) == f"B-{run}"

    for control_id in (f"E-{run}", f"I-{run}", f"B1-{run}", f"B2-{run}"):
        assert (
            ensemble.count(
                "hospital-feed",
                "SELECT count(*) FROM hl7_messages WHERE control_id = ? AND status = 'accepted'",
                control_id,
            )
            == 1
        ), control_id

    # Each admission was published and alerted to its practice, like any other.
    def alerted(nhs: str) -> int:
        sql = "SELECT count(*) FROM practice_alerts WHERE nhs_number = ?"
        return ensemble.count("hospital-feed", sql, nhs)

    for nhs in (enhanced, itk, first, second):
        wait_for(partial(alerted, nhs), what="an admission's alert")
