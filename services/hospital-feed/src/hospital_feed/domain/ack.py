"""Original-mode HL7 acknowledgements: MSA-1 AA/AE/AR, MSA-2 echoes MSH-10, ERR explains."""

from datetime import UTC, datetime
from uuid import uuid4

from hospital_feed.domain.hl7 import Header

RECEIVER = "ENSEMBLE"
_ESCAPES = {"\\": "\\E\\", "|": "\\F\\", "^": "\\S\\", "&": "\\T\\", "~": "\\R\\"}


def escape(text: str) -> str:
    return "".join(_ESCAPES.get(char, char) for char in text.replace("\r", " ").replace("\n", " "))


def build_ack(header: Header | None, code: str, text: str = "", error_code: str = "0") -> str:
    """An ACK for `header` (None when the message was too broken to read one)."""
    now = datetime.now(UTC).strftime("%Y%m%d%H%M%S+0000")
    trigger = header.trigger if header else ""
    msh = "|".join(
        [
            "MSH",
            "^~\\&",
            RECEIVER,
            RECEIVER,
            escape(header.sending_application) if header else "",
            escape(header.sending_facility) if header else "",
            now,
            "",
            f"ACK^{escape(trigger)}^ACK",
            uuid4().hex[:20],
            "P",
            header.version if header else "2.4",
        ]
    )
    msa = f"MSA|{code}|{escape(header.control_id) if header else ''}|{escape(text)}"
    segments = [msh, msa]
    if code != "AA":
        segments.append(f"ERR|||{error_code}^{escape(text)}^HL70357|E||||{escape(text)}")
    return "\r".join(segments) + "\r"
