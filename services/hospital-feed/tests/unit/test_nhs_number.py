import pytest

from hospital_feed.domain.nhs_number import (
    HELD_REASONS,
    NhsNumberStatus,
    classify,
    is_known_patient,
    is_placeholder,
)


@pytest.mark.parametrize("number", ["9990000018", "9990000026", "9990000034", "9434765919"])
def test_valid_numbers_identify_a_patient(number: str) -> None:
    assert classify(number) is NhsNumberStatus.VALID
    assert is_known_patient(number)


@pytest.mark.parametrize("number", ["9434765918", "9999999998", "9990000019"])
def test_a_wrong_check_digit_is_invalid(number: str) -> None:
    assert classify(number) is NhsNumberStatus.BAD_CHECK_DIGIT
    assert not is_known_patient(number)


def test_a_number_whose_check_digit_would_be_ten_is_never_valid() -> None:
    # 999000000x: weighted sum 243, remainder 1, check 10: no final digit makes it valid.
    assert all(classify(f"999000000{d}") is NhsNumberStatus.BAD_CHECK_DIGIT for d in "0123456789")


@pytest.mark.parametrize(
    "number", ["9999999999", "3333333333", "1111111111", "0000000000", "2222222222"]
)
def test_placeholders_pass_modulus_11_but_mean_unknown(number: str) -> None:
    assert is_placeholder(number)
    assert classify(number) is NhsNumberStatus.PLACEHOLDER
    assert not is_known_patient(number)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, NhsNumberStatus.MISSING),
        ("", NhsNumberStatus.MISSING),
        ("   ", NhsNumberStatus.MISSING),
        ("999000001", NhsNumberStatus.MALFORMED),
        ("99900000181", NhsNumberStatus.MALFORMED),
        ("999000001X", NhsNumberStatus.MALFORMED),
        ("\uff19" * 3 + "0000018", NhsNumberStatus.MALFORMED),  # full-width digits
        ("999 000 0018", NhsNumberStatus.VALID),
    ],
)
def test_missing_malformed_and_spaced(value: str | None, expected: NhsNumberStatus) -> None:
    assert classify(value) is expected


def test_held_reasons_explain_without_the_number() -> None:
    assert set(HELD_REASONS) == set(NhsNumberStatus) - {NhsNumberStatus.VALID}
    assert all(
        not any(ch.isdigit() for ch in reason.replace("PID-3", "").replace("-11", ""))
        for reason in HELD_REASONS.values()
    )
