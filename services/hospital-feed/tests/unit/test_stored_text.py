import pytest

from hospital_feed.domain.stored_text import digest, restored, single_line, storable


@pytest.mark.parametrize(
    "raw",
    [
        "MSH|^~\\&|PAS|RCB\x00|E\r",
        "\x00",
        "\\0 is not a NUL\x00 but this is",
        "a\\\\0b\x00\\u0000",
        "lone \ud800 surrogate and \udfff",
        "\\ud800 as text\x00",
    ],
)
def test_unstorable_text_is_escaped_losslessly(raw: str) -> None:
    text, escaped = storable(raw)
    assert escaped
    assert "\x00" not in text
    assert not any(0xD800 <= ord(char) <= 0xDFFF for char in text)
    text.encode("utf-8")  # every store can take it
    assert restored(text, escaped) == raw


def test_ordinary_text_is_stored_as_received() -> None:
    raw = "MSH|^~\\&|PAS|RCB|E|E\rPID|1||A\\T\\E\r"
    assert storable(raw) == (raw, False)
    assert restored(raw, False) == raw


def test_single_line_drops_controls_and_surrogates() -> None:
    assert single_line("C\x0b1\x1c2\r3\n4\x00\x7f") == "C1234"
    assert single_line("A\ud800B") == "A\ufffdB"
    assert single_line("RCB") == "RCB"


def test_digest_takes_any_text() -> None:
    assert digest("A\ud800") != digest("A")
    assert len(digest("\x00")) == 64
