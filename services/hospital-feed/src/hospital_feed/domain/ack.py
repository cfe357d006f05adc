"""HL7 acknowledgements: original mode, and enhanced mode when MSH-15/16 ask for it.

MSA-1 AA (accepted and committed) / AE (understood, content invalid) / AR (unreadable,
unsupported or not allowed); MSA-2 echoes MSH-10; on errors an ERR segment with the
table 0357 code in ERR-3, severity E in ERR-4 and the reason in ERR-8.

Echoed values are escaped and stripped of control characters, so an ACK never carries MLLP
framing bytes (0x0B, 0x1C), a segment end or a NUL taken from the message it answers.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import uuid4

from hospital_feed.domain.hl7_message import Header
from hospital_feed.domain.stored_text import single_line

OUR_NAME = "ENSEMBLE"  # our MSH-3/4 when the sender left MSH-5/6 empty
_ESCAPES = {"\\": "\\E\\", "|": "\\F\\", "^": "\\S\\", "&": "\\T\\", "~": "\\R\\"}
# A run of ten digits (spaced or not) could be an NHS number: never echo one.
_NUMBER_LIKE = re.compile(r"\d[\d -]{8,}\d")
_MAX_REASON = 200
_FRAMING = "\ufeff\x0b\x1c \t\r\n"  # what may precede the MSH, as hl7_message strips it


def escape(text: str) -> str:
    """HL7-escape a value for our ACK: delimiters escaped, line ends become spaces, other
    control characters (framing bytes, NUL) dropped."""
    text = single_line(text.replace("\r", " ").replace("\n", " "))
    return "".join(_ESCAPES.get(char, char) for char in text)


def safe_reason(text: str) -> str:
    """A reason fit for an ACK: no number that could be an NHS number, bounded length."""
    return _NUMBER_LIKE.sub("[number]", text)[:_MAX_REASON]


def build_ack(
    header: Header | None,
    code: str,
    reason: str = "",
    error_code: str = "0",
    now: datetime | None = None,
) -> str:
    """An ACK answering `header` (None when the message was too broken to read an MSH)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S+0000")
    # AA carries no text: a held message is our business, not the sender's.
    reason = escape(safe_reason(reason)) if code != "AA" else ""
    msh = "|".join(
        [
            "MSH",
            "^~\\&",
            escape(header.receiving_application if header else "") or OUR_NAME,
            escape(header.receiving_facility if header else "") or OUR_NAME,
            escape(header.sending_application) if header else "",
            escape(header.sending_facility) if header else "",
            stamp,
            "",
            f"ACK^{escape(header.trigger) if header else ''}^ACK",
            uuid4().hex[:20],  # our own control id; 20 chars fits v2.4's ST(20)
            escape(header.processing_id) if header and header.processing_id else "P",
            escape(header.version) if header else "2.4",
        ]
    )
    segments = [msh, f"MSA|{code}|{escape(header.control_id) if header else ''}|{reason}"]
    if code != "AA":
        segments.append(f"ERR|||{error_code}^{reason}^HL70357|E||||{reason}")
    return "\r".join(segments) + "\r"


# Enhanced acknowledgement mode (HL7 v2.5 chapter 2.9.3), asked for by MSH-15 (accept ACK)
# and MSH-16 (application ACK), each a condition from HL7 table 0155.
ALWAYS, NEVER, ON_ERROR, ON_SUCCESS = "AL", "NE", "ER", "SU"
CONDITIONS = frozenset({ALWAYS, NEVER, ON_ERROR, ON_SUCCESS})
STORE_FAILED = "the message could not be stored; send it again"


@dataclass(frozen=True)
class AckModes:
    """MSH-15 and MSH-16 of a message in enhanced mode."""

    accept: str
    application: str


def requested_modes(raw: str, header: Header | None) -> AckModes | None:
    """Enhanced mode when MSH-15 or MSH-16 holds a table 0155 condition; None (original
    mode) when both are empty or unknown, or when `header` (the message's, as parsed) is not
    confirmed: then what sits at MSH-15/16 may be another segment's content. In enhanced mode
    an empty or unknown one of the two counts as AL: an ACK the sender did not ask for is
    safer than a silence it waits on."""
    line = raw.lstrip(_FRAMING).split("\r", 1)[0].split("\n", 1)[0]
    if header is None or not header.confirmed or not line.startswith("MSH") or len(line) < 4:
        return None
    fields = line.split(line[3])  # fields[n - 1] is MSH-n: MSH-1 is the separator itself
    accept, application = (_condition(fields, n) for n in (15, 16))
    if accept is None and application is None:
        return None
    return AckModes(accept or ALWAYS, application or ALWAYS)


def _condition(fields: list[str], number: int) -> str | None:
    value = fields[number - 1].split("^", 1)[0].strip().upper() if number <= len(fields) else ""
    return value if value in CONDITIONS else None


def wanted(condition: str, success: bool) -> bool:
    return condition == ALWAYS or condition == (ON_SUCCESS if success else ON_ERROR)


def ack_code(ack: str) -> str:
    """MSA-1 of one of our ACKs."""
    for segment in ack.split("\r"):
        if segment.startswith("MSA|"):
            return segment.split("|")[1]
    return ""


def answer_frames(raw: str, header: Header | None, application_ack: str) -> list[str]:
    """The frames that answer a message once it is stored and judged (or refused unread).

    Original mode: its application ACK. Enhanced mode: the accept ACK if MSH-15 asks for it,
    then the application ACK if MSH-16 asks for it. The accept ACK is CA when the message is
    committed and will be processed (application ACK AA or AE), CR when it is refused
    outright (AR: kept for staff, never processed). Both come from the application ACK, so
    a resend, answered the same application ACK, gets the same frames."""
    modes = requested_modes(raw, header)
    if modes is None:
        return [application_ack]
    code = ack_code(application_ack)
    accept_code = "CR" if code == "AR" else "CA"
    frames = []
    if wanted(modes.accept, accept_code == "CA"):
        frames.append(_enhanced(application_ack, accept_code))
    if wanted(modes.application, code == "AA"):
        frames.append(_enhanced(application_ack, code))
    return frames


def commit_error(raw: str, header: Header | None) -> str | None:
    """The CE accept ACK for a message that could not be stored, when the sender is in
    enhanced mode and MSH-15 asks for it (AL, ER); None otherwise (the connection is then
    closed unanswered, as in original mode, and the sender resends)."""
    modes = requested_modes(raw, header)
    if modes is None or not wanted(modes.accept, success=False):
        return None
    return _enhanced(build_ack(header, "CE", STORE_FAILED, "207"), "CE")


def _enhanced(ack: str, code: str) -> str:
    """`ack` (one of ours) as an enhanced-mode ACK with MSA-1 `code`: its own control id,
    and MSH-15/16 NE, so that nobody acknowledges an acknowledgement. CA carries no text."""
    segments = ack.rstrip("\r").split("\r")
    msh = (segments[0].split("|") + [""] * 12)[:12]  # build_ack's MSH-1..12
    msh[9] = uuid4().hex[:20]
    msh[12:] = ["", "", "NE", "NE"]  # MSH-13, 14 empty; MSH-15, 16
    out = ["|".join(msh)]
    for segment in segments[1:]:
        fields = segment.split("|")
        if fields[0] == "MSA":
            fields[1] = code
            if code == "CA":
                fields[3:] = [""]
        elif fields[0] == "ERR" and code == "CA":
            continue
        out.append("|".join(fields))
    return "\r".join(out) + "\r"
