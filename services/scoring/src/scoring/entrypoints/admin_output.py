"""What `ensemble-scoring-admin` prints: reports as text, and a progress bar on stderr."""

import sys
import time
from typing import Any, TextIO


class Progress:
    """`done/total` on stderr: a bar redrawn in place on a terminal, a line at most every few
    seconds otherwise (a log file keeps a few lines, not thousands)."""

    def __init__(self, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self._last = 0.0
        self._shown = False

    def show(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not self.tty and now - self._last < 5 and done < total:
            return
        self._last = now
        share = done / total if total else 1.0
        bar = "#" * round(30 * share)
        line = f"[{bar:<30}] {share:6.1%} {done:,}/{total:,}"
        print(f"\r{line}" if self.tty else line, end="" if self.tty else "\n", file=self.stream)
        self._shown = True

    def done(self) -> None:
        if self.enabled and self.tty and self._shown:
            print(file=self.stream)


def evaluation_text(report: dict[str, Any]) -> str:
    lines = [
        f"candidate {report['candidate']} against the active {report['active']}, as of "
        f"{report['as_of']}: {report['patients']:,} patients, {report['changing']:,} change band",
        f"(activating it would publish {report['would_publish']:,} band changes against the "
        "stored bands, which also counts hospital use that aged since the last score)",
    ]
    if report.get("activation_refused"):
        lines.append(f"activation would be refused: {report['activation_refused']}")
    for practice in report["practices"]:
        lines.append(
            f"{practice['practice_ods']}: {practice['patients']:,} patients, "
            f"{practice['changing']:,} change band"
        )
        for change in practice["changes"]:
            lines.append(f"  {change['from']} -> {change['to']}: {change['patients']:,}")
        for example in practice["examples"]:
            moved = ", ".join(f"{f['factor']} {f['from']}->{f['to']}" for f in example["factors"])
            before, after = example["from"], example["to"]
            lines.append(
                f"  e.g. {example['nhs_number']}: {before['band']} {before['score']} -> "
                f"{after['band']} {after['score']} ({moved})"
            )
    return "\n".join(lines)


def loaded_text(shown: dict[str, Any]) -> str:
    lines = [
        f"loaded {shown['loaded']:,} line(s): {shown['changed']:,} changed, "
        f"{shown['unchanged']:,} unchanged, {shown['older']:,} older than the stored profile"
    ]
    lines += [f"error: {error}" for error in shown["errors"]]
    lines += [f"warning: {warning}" for warning in shown["warnings"]]
    return "\n".join(lines)


def show_text(shown: dict[str, Any]) -> str:
    lines = [f"active: {shown['active']}"]
    lines += [
        f"stored: {m['version']} ({m['digest'][:12]}, {m['stored_at']})" for m in shown["stored"]
    ]
    lines += [
        f"activated: {a['version']} at {a['activated_at']} by {a['activated_by']}"
        for a in shown["activations"]
    ]
    return "\n".join(lines)
