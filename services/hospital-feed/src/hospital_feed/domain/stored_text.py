"""Text from a sender as every store can keep it, without losing a character.

PostgreSQL `text` cannot hold NUL (U+0000) and no store driver accepts a lone surrogate
(U+D800-U+DFFF). A raw message holding either is stored escaped and flagged: backslashes are
doubled, NUL becomes `\\0` and a surrogate `\\udxxx`, so `restored(*storable(raw)) == raw`.
Any other message is stored exactly as received.

Short identifiers read from a message (MSH-4, MSH-10, the trigger) are stored as a single
line of printable text instead: control characters dropped, surrogates replaced.
"""

import hashlib
import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED = re.compile(r"\\(\\|0|u[0-9a-f]{4})")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def storable(raw: str) -> tuple[str, bool]:
    """(text to store, whether it is escaped)."""
    if _UNSTORABLE.search(raw) is None:
        return raw, False
    text = raw.replace("\\", "\\\\").replace("\x00", "\\0")
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text), True


def restored(text: str, escaped: bool) -> str:
    """The message as received, from its stored form."""
    if not escaped:
        return text

    def unescape(match: re.Match[str]) -> str:
        code = match.group(1)
        if code == "\\":
            return "\\"
        if code == "0":
            return "\x00"
        return chr(int(code[1:], 16))

    return _ESCAPED.sub(unescape, text)


def single_line(value: str) -> str:
    """An identifier fit for a column, a log line or an ACK: no control characters (NUL,
    MLLP framing bytes, segment ends) and no lone surrogates."""
    return _SURROGATE.sub("\ufffd", _CONTROL.sub("", value))


def digest(text: str) -> str:
    """sha256 of the text; lone surrogates are hashed as they are, never refused."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
