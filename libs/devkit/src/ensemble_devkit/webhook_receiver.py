"""A webhook receiver, as a practice's system would run one (the demo's and the tests').

    python -m ensemble_devkit.webhook_receiver --port 9100 --secret-file secret.txt \\
        --out alerts.jsonl

Every POST is verified with the `standardwebhooks` package against the secret in
`--secret-file` (read on each request, so a rotated secret can be written in place):
a forged signature, missing headers, or a `webhook-timestamp` more than five minutes from
now (an old capture replayed) get 401 and no effect. A `webhook-id` already received gets
200 and no second effect: that is what makes the sender's at-least-once delivery exactly
once here. Each new alert is appended to `--out` as one JSON line
`{"webhook_id", "type", "alert"}` (a digest: one line per alert) before the 200, and the ids
in that file are known again after a restart.

For tests: `--fail-times N` answers the first N attempts of each webhook-id with
`--fail-status` (500), `--delay-seconds` waits before answering anything (a hanging
endpoint), `--hold-first-seconds` waits after recording a new webhook-id's effect before
answering it (the sender's crash window). `GET /stats` says what arrived.
"""

import argparse
import asyncio
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import uvicorn
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ensemble_runtime.lifeline import watch_lifeline

MAX_BODY = 4 * 1024 * 1024  # a digest of 500 alerts fits with room to spare
log = logging.getLogger("webhook_receiver")


class Receiver:
    """The receiver's state: what it has seen and how it misbehaves (for tests)."""

    def __init__(
        self,
        secret_file: Path,
        out: Path,
        *,
        fail_times: int = 0,
        fail_status: int = 500,
        delay_seconds: float = 0.0,
        hold_first_seconds: float = 0.0,
    ) -> None:
        self.secret_file = secret_file
        self.out = out
        self.fail_times = fail_times
        self.fail_status = fail_status
        self.delay_seconds = delay_seconds
        self.hold_first_seconds = hold_first_seconds
        self.attempts: Counter[str] = Counter()  # verified requests per webhook-id
        self.refused = 0
        self.seen = self._already_received()

    def _already_received(self) -> set[str]:
        if not self.out.exists():
            return set()
        lines = self.out.read_text().splitlines()
        return {json.loads(line)["webhook_id"] for line in lines if line.strip()}

    def verify(self, body: bytes, headers: dict[str, str]) -> dict[str, Any] | None:
        """The payload if the signature and timestamp are good, else None."""
        try:
            secret = self.secret_file.read_text().strip()
            payload = Webhook(secret).verify(body, headers)
        except (OSError, WebhookVerificationError, ValueError):  # ValueError: bad base64
            return None
        return payload if isinstance(payload, dict) else None

    def record(self, webhook_id: str, payload: dict[str, Any]) -> int:
        """Append the delivery's alerts to the out file (the effect); how many."""
        kind, data = payload.get("type"), payload.get("data") or {}
        alerts = data.get("alerts", []) if kind == "alert.digest" else [data]
        self.out.parent.mkdir(parents=True, exist_ok=True)
        with self.out.open("a") as out:
            for alert in alerts:
                line = {"webhook_id": webhook_id, "type": kind, "alert": alert}
                out.write(json.dumps(line, separators=(",", ":")) + "\n")
            out.flush()
        self.seen.add(webhook_id)
        return len(alerts)

    async def receive(self, request: Request) -> Response:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        body = await _body(request)
        if body is None:
            return JSONResponse({"detail": "body too large"}, 413)
        payload = self.verify(body, dict(request.headers))
        if payload is None:
            self.refused += 1
            log.info("refused: signature or timestamp not valid")
            return JSONResponse({"detail": "signature not verified"}, 401)
        webhook_id = request.headers["webhook-id"]
        self.attempts[webhook_id] += 1
        if self.attempts[webhook_id] <= self.fail_times:
            return JSONResponse({"detail": "failing on purpose"}, self.fail_status)
        if webhook_id in self.seen:
            log.info("duplicate %s: no second effect", webhook_id)
            return JSONResponse({"duplicate": True})
        count = self.record(webhook_id, payload)  # no await since the check: one effect
        log.info("received %s: %d alert(s)", webhook_id, count)
        if self.hold_first_seconds:
            await asyncio.sleep(self.hold_first_seconds)
        return JSONResponse({"duplicate": False, "alerts": count})

    async def stats(self, _request: Request) -> Response:
        return JSONResponse(
            {"attempts": dict(self.attempts), "refused": self.refused, "seen": len(self.seen)}
        )


async def _body(request: Request) -> bytes | None:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return None
    return bytes(body)


async def _healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def receiver_app(receiver: Receiver) -> Starlette:
    """The receiver as an ASGI app: POST any path to deliver; GET /healthz, /stats."""
    return Starlette(
        routes=[
            Route("/healthz", _healthz, methods=["GET"]),
            Route("/stats", receiver.stats, methods=["GET"]),
            Route("/{path:path}", receiver.receive, methods=["POST"]),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret-file", type=Path, required=True, help="holds whsec_...")
    parser.add_argument("--out", type=Path, required=True, help="JSON lines, one per alert")
    parser.add_argument("--fail-times", type=int, default=0)
    parser.add_argument("--fail-status", type=int, default=500)
    parser.add_argument("--delay-seconds", type=float, default=0.0)
    parser.add_argument("--hold-first-seconds", type=float, default=0.0)
    args = parser.parse_args(argv)
    watch_lifeline(grace_seconds=5)  # started by `make run`: gone when the launcher is
    logging.basicConfig(level=logging.INFO, format="webhook-receiver %(message)s")
    receiver = Receiver(
        args.secret_file,
        args.out,
        fail_times=args.fail_times,
        fail_status=args.fail_status,
        delay_seconds=args.delay_seconds,
        hold_first_seconds=args.hold_first_seconds,
    )
    uvicorn.run(receiver_app(receiver), host=args.host, port=args.port, access_log=False)


if __name__ == "__main__":
    main()
