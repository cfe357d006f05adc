"""NHS numbers as hospital feeds send them: which ones identify a patient, and why not.

The modulus-11 rule itself lives in `ensemble_contracts.nhs_number` so every service agrees.
Here we add what a feed needs: spaces are tolerated, and any all-same-digit number
(9999999999, 3333333333, 1111111111, 0000000000, ...) is a placeholder meaning "not known".
Every all-same-digit number passes modulus 11, so the check digit alone cannot catch them.
"""

from enum import StrEnum

from ensemble_contracts.nhs_number import check_digit


class NhsNumberStatus(StrEnum):
    VALID = "valid"
    MISSING = "missing"
    MALFORMED = "malformed"
    PLACEHOLDER = "placeholder"
    BAD_CHECK_DIGIT = "bad_check_digit"


# Why a message is held: readable by staff, and never containing the number itself.
HELD_REASONS = {
    NhsNumberStatus.MISSING: "no NHS number in PID-3",
    NhsNumberStatus.MALFORMED: "the NHS number in PID-3 is not ten digits",
    NhsNumberStatus.PLACEHOLDER: "the NHS number in PID-3 is a placeholder for an unknown patient",
    NhsNumberStatus.BAD_CHECK_DIGIT: "the NHS number in PID-3 fails the modulus-11 check",
}


def normalise(value: str) -> str:
    """Feeds and people write `999 000 0018`; the canonical form has no spaces."""
    return value.replace(" ", "").strip()


def is_placeholder(value: str) -> bool:
    return len(value) == 10 and value.isdigit() and len(set(value)) == 1


def classify(value: str | None) -> NhsNumberStatus:
    if value is None or not normalise(value):
        return NhsNumberStatus.MISSING
    number = normalise(value)
    if len(number) != 10 or not number.isascii() or not number.isdigit():
        return NhsNumberStatus.MALFORMED
    if is_placeholder(number):
        return NhsNumberStatus.PLACEHOLDER
    if check_digit(number[:9]) != int(number[9]):
        return NhsNumberStatus.BAD_CHECK_DIGIT
    return NhsNumberStatus.VALID


def is_known_patient(value: str | None) -> bool:
    """True when the number identifies a real patient: valid and not a placeholder."""
    return classify(value) is NhsNumberStatus.VALID
