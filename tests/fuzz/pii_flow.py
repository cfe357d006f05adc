"""The PII scan's workload, run as a process of its own (`python -m tests.fuzz.pii_flow`):
logging is configured exactly as a service configures it, so stderr holds every log line.

    python -m tests.fuzz.pii_flow OUT_DIR STORES_JSON EXAMPLES

STORES_JSON maps each service name to its database URL. The four services run in-process
on their stores; events go from one to the next through the consumers' real batch path.
Patient data from `pii.PLANTED` is put everywhere a caller can put it: HL7 over HTTP and
MLLP (good, broken and refused messages), profile extracts, referral requests, events; then
a fuzz slice of every target runs on the same values. Every dead letter is written to
OUT_DIR/letters.jsonl and what happened to OUT_DIR/summary.json; the scan (test_pii_scan.py)
greps the log lines and letters.
"""

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any, cast

import pytest
import sqlalchemy as sa

from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS, HOT_ONBOARDING, REFERRALS, TopicSpec
from ensemble_devkit.service_map import load_definitions
from ensemble_devkit.span_checks import in_memory_tracing, span_texts
from ensemble_devkit.testkit import ServiceKit
from ensemble_runtime.definition import Subscription
from ensemble_runtime.logging import configure_logging
from hospital_feed.entrypoints.mllp import END, START, MllpListener

from .harness import DeadLetters, FakeMessage, Offsets, record
from .pii import PLANTED
from .report import Stats
from .strategies import Person, hl7_messages, mllp_streams
from .support import Loop, bearer, kit_for
from .test_consumers import CONSUMER_SETTINGS, fuzz_consumer, seed
from .test_extracts import fuzz_extracts
from .test_hl7_http import fuzz_hl7_http
from .test_json_routes import fuzz_routes
from .test_mllp import MAX_MESSAGE_BYTES, fuzz_mllp

STAFF = bearer("staff", "staff")
SENDER = bearer("sender", "RCB")
PRACTICE = bearer("practice", "L85001")
WHEN = "202611230815"  # just before the kits' clock (2026-11-23 09:00 UTC)


def adt(p: Person, trigger: str = "A01", control_id: str = "C1", **changes: str) -> str:
    """An ITK-style ADT message about `p`: name, birth date, address and postcode in PID."""
    fields = {
        "msh4": "RCB",
        "evn6": WHEN,
        "nhs": f"{p.nhs_number}^^^NHS^NH",
        "visit": f"V{control_id}",
        "location": "WARD 7^BAY 2^BED 4^RCB",
        "practice": "L85001",
        "end": "\r",
    } | changes
    structure = {"A04": "ADT_A01", "A08": "ADT_A01", "A11": "ADT_A09", "A13": "ADT_A01"}
    segments = [
        f"MSH|^~\\&|PAS|{fields['msh4']}|ENSEMBLE|ENSEMBLE|{WHEN}||ADT^{trigger}^"
        f"{structure.get(trigger, f'ADT_{trigger}')}|{control_id}|P|2.4|||AL|NE",
        f"EVN|{trigger}|{WHEN}||||{fields['evn6']}",
        f"PID|1||RCB{control_id}^^^RCB^MR~{fields['nhs']}||{p.family}^{p.given}^^^MRS||"
        f"{p.birth_date}|F|||{p.street}^^YORK^^{p.postcode}||01632 960000",
        f"PD1|||TEST SURGERY^^{fields['practice']}|G1234567^TEST^DOCTOR",
        f"NK1|1|{p.family}^NEXT^OF^KIN|SPO|{p.street}^^YORK^^{p.postcode}",
        f"PV1|1|I|{fields['location']}|21|||C1234567^TEST^CONSULTANT||||||||||||{fields['visit']}"
        f"|||||||||||||||||||||||||{WHEN}",
    ]
    return fields["end"].join(segments) + fields["end"]


def hostile_messages(p: Person, n: int) -> list[bytes]:
    """Messages about `p` that must be answered, kept, and never logged with their content."""
    good = adt(p, control_id=f"G{n}")
    return [
        good.encode(),
        adt(p, control_id=f"N{n}").replace(p.given, p.given + "\x00").encode(),  # NUL
        adt(p, control_id=f"Y{n}", evn6="99991231235959").encode(),  # year 9999
        adt(p, control_id=f"O{n}", evn6="00010101").encode(),  # year 1
        adt(p, control_id=f"W{n}", msh4="RVJ").encode(),  # not this sender's facility
        adt(p, control_id=f"V{n}", visit="V" * 60).encode(),  # PV1-19 over the contract
        adt(p, control_id=f"H{n}", nhs="9999999999^^^NHS^NH").encode(),  # placeholder: held
        adt(p, control_id=f"S{n}", end="\x1c").encode(),  # no segment ends: PID runs into MSH
        # A short MSH with no segment end: PID's name and birth date sit in MSH-10 and MSH-11.
        (
            f"MSH|^~\\&|PAS|RCB|ENSEMBLE|ENSEMBLE|{WHEN}||ADT^A01^ADT_A01|{p.family}^{p.given}"
            f"|{p.birth_date}|{p.street}^^{p.postcode}\x1cPID|1||{p.nhs_number}^^^NHS^NH\r"
        ).encode(),
        adt(p, control_id=f"L{n}").replace(p.street, p.street + " \u00e9").encode("latin-1"),
        ("\ufeff" + adt(p, control_id=f"B{n}", end="\n")).encode(),
        adt(p, "A03", control_id=f"D{n}").encode(),
    ]


class Flow:
    def __init__(self, out: Path, stores: dict[str, str], examples: int) -> None:
        self.out = out
        self.examples = examples
        self.loop = Loop()
        self.definitions = {d.name: d for d in load_definitions()}
        # Traced (spans kept in memory): every span is scanned too, the consumers' included.
        self.tracing = {name: in_memory_tracing(name) for name in self.definitions}
        self.kits: dict[str, ServiceKit[Any, Any]] = {
            name: kit_for(d, stores[name], tracing=self.tracing[name][0], **CONSUMER_SETTINGS)
            for name, d in self.definitions.items()
        }
        self.letters = DeadLetters()
        self.letters.install(pytest.MonkeyPatch())
        self.offsets = Offsets()
        self.delivered: dict[tuple[str, str], int] = {}  # (topic, group) -> last outbox id
        self.summary: dict[str, Any] = {"answers": {}, "steps": []}

    def kit(self, name: str) -> ServiceKit[Any, Any]:
        return self.kits[name]

    def note(self, step: str, value: Any) -> None:
        self.summary["steps"].append([step, value])

    async def call(self, service: str, method: str, path: str, **request: Any) -> Any:
        async with self.kit(service).client() as http:
            response = await http.request(method, path, **request)
        key = f"{service} {method} {response.status_code}"
        self.summary["answers"][key] = self.summary["answers"].get(key, 0) + 1
        return response

    def deliver(self, producer: str, topic: TopicSpec[Any]) -> None:
        """The producer's new outbox rows on `topic`, to every subscription to it."""
        engine = self.kit(producer).service.engine
        for name, definition in self.definitions.items():
            for subscription in definition.subscriptions:
                if subscription.topic.name == topic.name:
                    self._deliver(engine, name, subscription)

    def _deliver(
        self, engine: sa.Engine, consumer: str, subscription: Subscription[Any, Any]
    ) -> None:
        key = (subscription.topic.name, subscription.group)
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT id, payload, traceparent FROM outbox"
                    " WHERE topic = :t AND id > :after ORDER BY id"
                ),
                {"t": subscription.topic.name, "after": self.delivered.get(key, 0)},
            ).all()
        if not rows:
            return
        self.delivered[key] = rows[-1][0]
        values = [str(row[1]).encode() for row in rows]
        self.feed(consumer, subscription, values, [row[2] for row in rows])

    def feed(
        self,
        consumer: str,
        subscription: Subscription[Any, Any],
        values: list[bytes],
        traceparents: list[str | None] | None = None,
    ) -> None:
        parents = traceparents or [None] * len(values)
        topic = subscription.topic.name
        records = tuple(
            record(topic, self.offsets.take(), v, p) for v, p in zip(values, parents, strict=True)
        )
        message = FakeMessage(records)
        runtime = self.kit(consumer).runtime
        self.loop.run(runtime.consumers.process_batch(subscription, cast(Any, message)))
        self.note(f"{subscription.group} consumed", len(values))

    def subscription(self, group: str) -> tuple[str, Subscription[Any, Any]]:
        for name, definition in self.definitions.items():
            for subscription in definition.subscriptions:
                if subscription.group == group:
                    return name, subscription
        raise LookupError(group)

    # --- the flow ------------------------------------------------------------------------------

    def run(self) -> None:
        seed(self.kit("scheduling"), self.loop)  # coaches to book with
        self.extracts()
        self.rosters()
        self.hl7_over_http()
        self.hl7_over_mllp()
        self.deliver("hospital-feed", HOSPITAL_ENCOUNTERS)
        self.deliver("scoring", HOT_ONBOARDING)
        self.referrals()
        self.deliver("referral", REFERRALS)
        self.reads()
        self.bad_events()
        self.fuzz_slice()
        self.deliver("hospital-feed", HOSPITAL_ENCOUNTERS)
        self.deliver("scoring", HOT_ONBOARDING)
        self.deliver("referral", REFERRALS)
        self.summary["dead_letters"] = len(self.letters.kept)
        with (self.out / "letters.jsonl").open("w") as letters:
            for letter in self.letters.kept:
                letters.write(letter.model_dump_json() + "\n")
        with (self.out / "spans.jsonl").open("w") as spans:
            for name, (_, exporter) in self.tracing.items():
                for span in exporter.get_finished_spans():
                    texts = list(span_texts([span]))
                    spans.write(json.dumps({"service": name, "texts": texts}) + "\n")
        (self.out / "summary.json").write_text(json.dumps(self.summary, indent=1))

    def extracts(self) -> None:
        good = [
            {
                "nhs_number": p.nhs_number,
                "practice_ods": "L85001",
                "birth_date": f"{p.birth_date[:4]}-{p.birth_date[4:6]}-{p.birth_date[6:]}",
                "conditions": ["diabetes", "copd", "chd", "heart_failure", "depression"],
                "repeat_medicines": 12,
                "efi_deficits": 10,
                "deprivation_quintile": 1,
                "preferred_language": "pa",
                "name": f"{p.given} {p.family}",  # not a profile field: ignored
                "postcode": p.postcode,
            }
            for p in PLANTED
        ]
        bad = (
            [
                {"nhs_number": p.nhs_number, "birth_date": p.birth_date}  # not ISO
                for p in PLANTED
            ]
            + [
                {"nhs_number": f"{p.nhs_number[:3]} {p.nhs_number[3:6]} {p.nhs_number[6:]}x"}
                for p in PLANTED
            ]
            + [{"nhs_number": p.nhs_number, "preferred_language": p.street} for p in PLANTED]
        )
        lines = [json.dumps(line) for line in good + bad]
        lines.append(f'{{"nhs_number": "{PLANTED[0].nhs_number}", "name": "{PLANTED[0].family}')
        staff = STAFF
        body = "\n".join(lines).encode()
        answer = self.loop.run(
            self.call("scoring", "POST", "/v1/profiles", content=body, headers=staff)
        )
        assert answer.status_code == 200 and answer.json()["loaded"] == len(PLANTED), answer.text
        csv_lines = ["nhs_number,name,postcode,birth_date,practice_ods,preferred_language"]
        for p in PLANTED:
            csv_lines.append(
                f"{p.nhs_number},{p.given} {p.family},{p.postcode},{p.birth_date},L85001,{p.street}"
            )
            csv_lines.append(f'{p.nhs_number},"{p.family},{p.postcode}')
        headers = STAFF | {"content-type": "text/csv"}
        answer = self.loop.run(
            self.call(
                "scoring", "POST", "/v1/profiles", content="\r\n".join(csv_lines), headers=headers
            )
        )
        assert answer.status_code in (200, 400), answer.text
        self.note("extracts", answer.json()["errors"])

    def rosters(self) -> None:
        """Roster files with names and postcodes beside the NHS numbers, bad rows, a staff
        file naming an unknown recipient; then an admission no one follows (unrouted)."""
        csv = {"content-type": "text/csv"}
        own = ["nhs_number,name,postcode"] + [
            f"{p.nhs_number[:3]} {p.nhs_number[3:]},{p.given} {p.family},{p.postcode}"
            for p in PLANTED[:2]
        ]
        own += [f"{p.nhs_number}x,{p.family}" for p in PLANTED] + [f'"{PLANTED[0].family}']
        staff = ["recipient,nhs_number,name"] + [
            f"{code},{p.nhs_number},{p.family}"
            for p in PLANTED[:2]
            for code in ("L85002", "COACH1")
        ]
        unrouted = adt(PLANTED[2], control_id="NOPD1", practice="")

        async def run() -> list[int]:
            answers = [
                await self.call(
                    "hospital-feed",
                    "PUT",
                    "/v1/practices/L85001/roster",
                    content="\n".join(own),
                    headers=PRACTICE | csv,
                ),
                await self.call(
                    "hospital-feed",
                    "POST",
                    "/v1/rosters",
                    params={"mode": "add"},
                    content="\n".join(staff),
                    headers=STAFF | csv,
                ),
                await self.call(
                    "hospital-feed", "POST", "/v1/hl7v2", content=unrouted, headers=SENDER
                ),
            ]
            return [answer.status_code for answer in answers]

        codes = self.loop.run(run())
        assert codes == [200, 200, 200], codes
        self.note("rosters", codes)

    def hl7_over_http(self) -> None:
        async def send() -> list[str]:
            codes = []
            for n, p in enumerate(PLANTED[:2]):
                for body in hostile_messages(p, n):
                    response = await self.call(
                        "hospital-feed", "POST", "/v1/hl7v2", content=body, headers=SENDER
                    )
                    assert response.status_code == 200, response.status_code
                    codes.append(response.text.split("MSA|", 1)[1][:2])
            cancel = adt(PLANTED[1], "A11", control_id="X1", visit="VG1")
            response = await self.call(
                "hospital-feed", "POST", "/v1/hl7v2", content=cancel, headers=SENDER
            )
            codes.append(response.text.split("MSA|", 1)[1][:2])
            return codes

        codes = self.loop.run(send())
        assert "AA" in codes and "AE" in codes and "AR" in codes, codes
        self.note("hl7 over http", codes)

    def hl7_over_mllp(self) -> None:
        kit = self.kit("hospital-feed")
        listener = MllpListener(
            kit.runtime, "RCB", "127.0.0.1", 0, MAX_MESSAGE_BYTES, read_timeout=2, idle_timeout=2
        )
        p = PLANTED[2]
        frames = [START + body + END for body in hostile_messages(p, 9)]
        big = adt(p, control_id="BIG").replace(
            p.street, p.street * (MAX_MESSAGE_BYTES // len(p.street))
        )
        frames.append(START + big.encode() + END)

        async def converse() -> bytes:
            await listener.start()
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
                writer.write(b"".join(frames))
                writer.write_eof()
                answer = await asyncio.wait_for(reader.read(-1), 30)
                writer.close()
                return answer
            finally:
                await listener.stop()

        answer = self.loop.run(converse())
        assert answer.count(END) == len(frames), (answer.count(END), len(frames))
        self.note("hl7 over mllp", answer.count(END))

    def referrals(self) -> None:
        p, q = PLANTED[0], PLANTED[1]

        async def run() -> None:
            made = await self.call(
                "referral",
                "POST",
                "/v1/referrals",
                json={
                    "nhs_number": f"{p.nhs_number[:3]} {p.nhs_number[3:6]} {p.nhs_number[6:]}",
                    "service": "health_coaching",
                    "preferred_language": "pa",
                    "reason": f"lives alone at {p.street}, {p.postcode}; born {p.birth_date}",
                },
                headers=PRACTICE,
            )
            assert made.status_code in (201, 409), made.text
            refused = [
                {
                    "nhs_number": p.nhs_number[:9] + str((int(p.nhs_number[9]) + 1) % 10),
                    "service": "health_coaching",
                },
                {"nhs_number": q.nhs_number, "service": "knitting", "reason": q.family},
                {
                    "nhs_number": q.nhs_number,
                    "service": "health_coaching",
                    "reason": f"{q.family}\x00",
                },
                {
                    "nhs_number": q.nhs_number,
                    "service": "health_coaching",
                    "preferred_language": q.street,
                },
                {"nhs_number": f"{q.nhs_number}{q.birth_date}", "service": "complex_care"},
            ]
            for body in refused:
                answer = await self.call(
                    "referral", "POST", "/v1/referrals", json=body, headers=PRACTICE
                )
                assert answer.status_code in (403, 409, 422), answer.text
            listed = await self.call(
                "referral",
                "GET",
                "/v1/referrals",
                params={"nhs_number": p.nhs_number},
                headers=STAFF,
            )
            assert listed.status_code == 200, listed.text
            ids = [r["referral_id"] for r in listed.json()["referrals"]]
            assert ids, "the practice's referral is listed"
            for referral_id in ids:
                await self.call("referral", "GET", f"/v1/referrals/{referral_id}", headers=STAFF)
                # Triage and consent first: accepting needs both (issue 12's lifecycle).
                steps: tuple[tuple[str, dict[str, str] | None], ...] = (
                    ("triage", {"priority": "routine"}),
                    ("consent", {"decision": "given", "method": "phone"}),
                    ("accept", None),
                )
                for step, step_body in steps:
                    await self.call(
                        "referral",
                        "POST",
                        f"/v1/referrals/{referral_id}/{step}",
                        json=step_body,
                        headers=STAFF,
                    )
            declined = await self.call(
                "referral",
                "GET",
                "/v1/referrals",
                params={"nhs_number": q.nhs_number},
                headers=STAFF,
            )
            for found in declined.json()["referrals"]:
                await self.call(
                    "referral",
                    "POST",
                    f"/v1/referrals/{found['referral_id']}/decline",
                    json={"reason": f"{q.given} {q.family} ({q.birth_date}) moved to {q.postcode}"},
                    headers=STAFF,
                )
            await self.call("referral", "GET", "/v1/practices/L85001/referrals", headers=PRACTICE)

        self.loop.run(run())
        self.note("referrals", "made")

    def reads(self) -> None:
        p = PLANTED[0]

        async def run() -> None:
            alerts = await self.call(
                "hospital-feed", "GET", "/v1/practices/L85001/alerts", headers=PRACTICE
            )
            assert alerts.status_code == 200 and alerts.json()["alerts"], alerts.text
            for status in ("rejected", "held", "accepted"):
                await self.call(
                    "hospital-feed", "GET", "/v1/messages", params={"status": status}, headers=STAFF
                )
            for message_id in range(1, 6):
                await self.call(
                    "hospital-feed", "POST", f"/v1/messages/{message_id}/reprocess", headers=STAFF
                )
            for number in (p.nhs_number, p.nhs_number[:9] + "0", p.birth_date):
                await self.call("scoring", "GET", f"/v1/patients/{number}/score", headers=STAFF)
            booked = await self.call(
                "scheduling",
                "GET",
                "/v1/appointments",
                params={"nhs_number": p.nhs_number},
                headers=STAFF,
            )
            assert booked.status_code == 200, booked.text
            appointments = booked.json()["appointments"]
            assert appointments, "the accepted referral was booked"
            self.note("appointments", len(appointments))
            for appointment in appointments[:1]:
                await self.call(
                    "scheduling",
                    "POST",
                    f"/v1/appointments/{appointment['appointment_id']}/attended",
                    headers=STAFF,
                )
            await self.call("scheduling", "GET", "/v1/waiting-list", headers=STAFF)

        self.loop.run(run())

    def bad_events(self) -> None:
        """Events carrying planted data that consumers must refuse or cannot apply."""
        p = PLANTED[0]
        base = {
            "event_type": "encounter.admitted",
            "producer": "hospital-feed",
            "nhs_number": p.nhs_number,
            "practice_ods": "L85001",
            "sending_facility": "RCB",
            "trigger_event": "A01",
            "source_message_id": "Z1",
        }
        encounters = [
            base | {"event_at": "2026-11-23T08:00:00"},  # no offset
            base | {"location": f"{p.family} {p.given} {p.street} {p.postcode} " * 10},
            base | {"visit_number": f"{p.family}-{p.birth_date}" * 5},
            base | {"nhs_number": f"{p.nhs_number[:3]} {p.nhs_number[3:6]} {p.nhs_number[6:]}"},
            base | {"event_at": f"{p.birth_date[:4]}-02-30T00:00:00Z"},
            base | {"nhs_number": "9999999999"},
            {"nhs_number": p.nhs_number, "name": p.family, "dob": p.birth_date},
        ]
        values = [json.dumps(e).encode() for e in encounters] + [
            f'{{"nhs_number": "{p.nhs_number}", "family": "{p.family}"'.encode(),
            p.street.encode("utf-16"),
        ]
        for group in ("hospital-feed.alerts", "scoring.encounters", "referral.registrations"):
            self.feed(*self.subscription(group), values)
        hot = {
            "event_type": "hot_onboarding.triggered",
            "producer": "scoring",
            "nhs_number": "9999999999",
            "practice_ods": "L85001",
            "band": "very_high",
            "score": 80,
            "model_version": "v1",
            "trigger": "admission",
            "trigger_event_id": "00000000-0000-0000-0000-000000000001",
            "preferred_language": p.street,
        }
        hot_values = [
            json.dumps(hot).encode(),
            json.dumps(hot | {"preferred_language": "pa"}).encode(),
        ]
        for group in ("referral.hot-onboarding", "hospital-feed.hot-onboarding"):
            self.feed(*self.subscription(group), hot_values)
        referral = {
            "event_type": "referral.accepted",
            "producer": "referral",
            "nhs_number": p.nhs_number,
            "referral_id": "00000000-0000-0000-0000-0000000000aa",
            "practice_ods": "L85001",
            "service": "health_coaching",
            "source": "gp",
            "status": "accepted",
            "preferred_language": "xx-" + p.family[:8],
            "reason": f"{p.given} {p.family}, {p.street}",
        }
        referral_values = [
            json.dumps(referral).encode(),
            json.dumps(referral | {"reason": p.family * 100}).encode(),
        ]
        for group in ("scheduling.referrals", "hospital-feed.caseloads"):
            self.feed(*self.subscription(group), referral_values)
        score = {
            "event_type": "score.band_changed",
            "producer": "scoring",
            "nhs_number": p.nhs_number,
            "model_version": "v1",
            "score": 80,
            "band": "very_high",
            "practice_ods": "L85001",
            "reasons": [{"factor": p.family, "points": 3, "detail": f"{p.given} {p.street}"}],
        }
        score_values = [
            json.dumps(score).encode(),
            json.dumps(score | {"band": p.family}).encode(),
        ]
        self.feed(*self.subscription("hospital-feed.risk"), score_values)
        assert self.letters.kept, "bad events were dead-lettered"

    def fuzz_slice(self) -> None:
        """Every fuzz target, a few cases each, on the planted values."""
        numbers = [p.nhs_number for p in PLANTED]

        def stats(target: str) -> Stats:
            return Stats(f"pii-{target}", "pii", self.examples)

        feed = self.kit("hospital-feed")
        fuzz_hl7_http(feed, self.loop, stats("hl7-http"), hl7_messages(PLANTED), self.examples)
        fuzz_mllp(
            feed, self.loop, stats("mllp"), mllp_streams(MAX_MESSAGE_BYTES, PLANTED), self.examples
        )
        fuzz_extracts(self.kit("scoring"), self.loop, stats("extracts"), numbers, self.examples)
        for name, kit in self.kits.items():
            fuzz_routes(kit, self.loop, stats(f"routes-{name}"), numbers, self.examples)
        for name, definition in self.definitions.items():
            for subscription in definition.subscriptions:
                target = stats(f"consumer-{subscription.group}")
                fuzz_consumer(
                    self.kit(name),
                    self.loop,
                    target,
                    subscription,
                    self.letters,
                    numbers,
                    self.examples,
                )
        self.note("fuzz slice", self.examples)

    def close(self) -> None:
        for kit in self.kits.values():
            kit.dispose()
        self.loop.close()


def main(argv: list[str]) -> None:
    out, stores, examples = Path(argv[0]), json.loads(argv[1]), int(argv[2])
    out.mkdir(parents=True, exist_ok=True)
    flow = Flow(out, stores, examples)
    settings = flow.kit("hospital-feed").settings
    # As `ensemble_runtime.service.serve` does, before anything logs.
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    # The flow's own HTTP client (the callers' side, not a service) logs each request line.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        flow.run()
    finally:
        flow.close()


if __name__ == "__main__":
    main(sys.argv[1:])
