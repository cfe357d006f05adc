"""Traces across Kafka hops (issue 13 item 5), on the real broker with the four services as
processes: their OTLP exporters post to a small OTLP/HTTP receiver started here, and one HL7
admission is one trace from intake through hospital-feed's relay to its own alert consumer,
scoring, and scoring's hot onboarding to referral and back to the practice's alert; accepting
the referral is one more trace into scheduling. No span carries the NHS number or name.

Tracing is on for this system only (its own run directory, the shared system paused), so the
other e2e tests keep running with tracing off.
"""

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from ensemble_devkit.demo import COACHES
from ensemble_devkit.kafka import KafkaBroker
from ensemble_devkit.pytest_plugin import TEST_STATE
from ensemble_devkit.synthetic import adt_message
from ensemble_devkit.system import SERVICES, Credentials, LocalSystem

from ..conftest import BASE_PORT, Systems
from ..flow import Ensemble, fresh_nhs_numbers, wait_for
from .test_care_flow import high_risk

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]
ENCOUNTERS = "hospital.encounters.v1"
HOT_ONBOARDING = "scoring.hot-onboarding.v1"
REFERRALS = "referral.referrals.v1"


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    trace_id: str
    kind: int
    texts: tuple[str, ...]  # name, every attribute key and value, events, links, status

    def attribute(self, key: str) -> str | None:
        texts = self.texts
        return next((texts[i + 1] for i in range(len(texts) - 1) if texts[i] == key), None)


class OtlpReceiver:
    """Takes OTLP/HTTP protobuf posts to /v1/traces and keeps the spans, as a collector."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                receiver.take(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def take(self, request: ExportTraceServiceRequest) -> None:
        found = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _text(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    texts = [span.name, span.status.message, *resource.values()]
                    for attribute in span.attributes:
                        texts += [attribute.key, _text(attribute.value)]
                    for event in span.events:
                        texts += [event.name, *(_text(a.value) for a in event.attributes)]
                    for link in span.links:
                        texts += [_text(a.value) for a in link.attributes]
                    found.append(
                        ReceivedSpan(
                            resource["service.name"],
                            span.name,
                            span.trace_id.hex(),
                            span.kind,
                            tuple(texts),
                        )
                    )
        with self._lock:
            self.spans.extend(found)

    def snapshot(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self.spans)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def log_lines(ensemble: Ensemble, service: str) -> list[dict[str, Any]]:
    log = ensemble.system.run_dir / "logs" / f"{service}.log"
    return [json.loads(text) for text in log.read_text().splitlines() if text[:1] == "{"]


def _text(value: Any) -> str:
    kind = value.WhichOneof("value")
    return str(getattr(value, kind)) if kind else ""


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    running = OtlpReceiver()
    yield running
    running.close()


@pytest.fixture
def traced_ensemble(
    systems: Systems,
    kafka_broker: KafkaBroker,
    receiver: OtlpReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Ensemble]:
    """The four services with tracing on, exporting to `receiver` every 200 ms."""
    systems.pause()  # the shared system would share these services' consumer groups
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
    system = LocalSystem(
        TEST_STATE / f"system-traces-{uuid.uuid4().hex[:8]}",
        Credentials.generate(kafka_broker.bootstrap_servers, BASE_PORT),
        extra_env={
            "SCORING_OUTBOX_POLL_SECONDS": "0.1",
            **{f"{s.env_prefix}_TRACING_OTLP_ENDPOINT": receiver.url for s in SERVICES},
        },
    )
    ensemble = Ensemble(system, kafka_broker)
    system.start()
    try:
        yield ensemble
    finally:
        ensemble.close()
        system.stop()


def test_an_admission_is_one_trace_from_hl7_intake_to_the_alert_in_every_service(
    traced_ensemble: Ensemble, receiver: OtlpReceiver
) -> None:
    ensemble = traced_ensemble
    (nhs,) = fresh_nhs_numbers(1)
    ensemble.load_coaches(COACHES)
    ensemble.load_profiles([high_risk(nhs, "L85001")])
    control_id = f"TRACE-{uuid.uuid4().hex[:8]}"  # no NHS number in the message's own ids
    ack = ensemble.post_adt(adt_message("A01", nhs, "L85001", control_id, "VTRACE1"))
    assert f"MSA|AA|{control_id}" in ack
    wait_for(lambda: ensemble.alerts_for("L85001", nhs), 20, "the practice alert")
    wait_for(lambda: ensemble.referrals_for(nhs), 30, "the proposed referral")

    def intake_trace() -> list[ReceivedSpan] | None:
        spans = receiver.snapshot()
        intakes = [s for s in spans if s.name == "hl7v2 intake"]
        if len(intakes) != 1:
            return None
        trace = [s for s in spans if s.trace_id == intakes[0].trace_id]
        wanted = {
            ("hospital-feed", "POST /v1/hl7v2"),
            ("hospital-feed", f"send {ENCOUNTERS}"),
            # No hospital-feed "process" span of the encounter: intake projected its alert in
            # the transaction that stored it (alerts_at_intake), and the consumer found it done.
            ("scoring", f"process {ENCOUNTERS}"),
            ("scoring", f"send {HOT_ONBOARDING}"),
            ("referral", f"process {HOT_ONBOARDING}"),
            ("hospital-feed", f"process {HOT_ONBOARDING}"),  # the hot onboarding alert
        }
        return trace if wanted <= {(s.service, s.name) for s in trace} else None

    trace = wait_for(intake_trace, 30, "the admission's spans in every service")
    consumers = {
        (s.service, s.attribute("messaging.consumer.group.name"))
        for s in trace
        if s.name == f"process {ENCOUNTERS}"
    }
    assert ("scoring", "scoring.encounters") in consumers
    assert ("hospital-feed", "hospital-feed.alerts") not in consumers

    # hospital-feed's log line for the message carries the trace and its correlation id, and
    # so does scoring's for what the message triggered.
    (received,) = [
        line
        for line in log_lines(ensemble, "hospital-feed")
        if line.get("event") == "hl7 message received" and line.get("control_id") == control_id
    ]
    assert received["trace_id"] == trace[0].trace_id
    ids = (received["trace_id"], received["correlation_id"])
    triggered = [
        line
        for line in log_lines(ensemble, "scoring")
        if line["event"] == "hot onboarding triggered"
    ]
    assert [(line.get("trace_id"), line.get("correlation_id")) for line in triggered] == [ids]

    # The fourth service: staff accept the proposed referral, and scheduling's booking of it
    # continues that request's trace.
    (referral,) = ensemble.referrals_for(nhs)
    ensemble.ready_to_accept(referral["referral_id"])
    ensemble.referral_step(referral["referral_id"], "accept")
    wait_for(lambda: ensemble.appointments_for(nhs), 20, "the first appointment")

    def accept_trace() -> tuple[str, set[tuple[str, str]]] | None:
        spans = receiver.snapshot()
        accepts = [s for s in spans if s.name == "POST /v1/referrals/{referral_id}/accept"]
        if len(accepts) != 1:
            return None
        found = {(s.service, s.name) for s in spans if s.trace_id == accepts[0].trace_id}
        # Each service exports on its own schedule: scheduling's span may come before the
        # referral relay's, so wait for both.
        wanted = {("referral", f"send {REFERRALS}"), ("scheduling", f"process {REFERRALS}")}
        return (accepts[0].trace_id, found) if wanted <= found else None

    accept_id, accepted = wait_for(accept_trace, 30, "the relay's and scheduling's spans")
    assert ("referral", f"send {REFERRALS}") in accepted
    # The request's correlation id went with its event: scheduling's booking lines carry it.
    (accepting,) = [
        line
        for line in log_lines(ensemble, "referral")
        if line.get("trace_id") == accept_id and line["event"] == "audit"
    ]
    booked = [
        line for line in log_lines(ensemble, "scheduling") if line["event"] == "session booked"
    ]
    assert booked
    assert {(line.get("trace_id"), line.get("correlation_id")) for line in booked} == {
        (accept_id, accepting["correlation_id"])
    }

    # No span of any service, in this trace or any other, names the patient.
    leaks = [
        (span.service, span.name, text)
        for span in receiver.snapshot()
        for text in span.texts
        if any(part in text for part in (nhs, "PATIENT", "19450101", "TESTTOWN"))
    ]
    assert leaks == []
