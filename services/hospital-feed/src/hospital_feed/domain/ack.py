"""Original-mode HL7 acknowledgements.

MSA-1 AA (accepted and committed) / AE (understood, content invalid) / AR (unreadable,
unsupported or not allowed); MSA-2 echoes MSH-10; on errors an ERR segment with the
table 0357 code in ERR-3, severity E in ERR-4 and the reason in ERR-8.

Echoed values are escaped and stripped of control characters, so an ACK never carries MLLP
framing bytes (0x0B, 0x1C), a segment end or a NUL taken from the message it answers.
"""

import re
from datetime import UTC, datetime
from uuid import uuid4

from hospital_feed.domain.hl7_message import Header
from hospital_feed.domain.stored_text import single_line

OUR_NAME = "ENSEMBLE"  # our MSH-3/4 when the sender left MSH-5/6 empty
_ESCAPES = {"\\": "\\E\\", "|": "\\F\\", "^": "\\S\\", "&": "\\T\\", "~": "\\R\\"}
# A run of ten digits (spaced or not) could be an NHS number: never echo one.
_NUMBER_LIKE = re.compile(r"\d[\d -]{8,}\d")
_MAX_REASON = 200


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
