"""NHS numbers as referral accepts them: typed by people, so spaces and dashes are allowed.

What a valid number is (modulus 11, no placeholders) is the shared rule in
`ensemble_contracts.nhs_number`; referral adds only reading typed input and its domain error.
"""

from ensemble_contracts.nhs_number import is_valid_nhs_number


class InvalidNhsNumber(ValueError):
    """Not ten digits, a wrong check digit, or a placeholder meaning 'unknown'."""

    def __init__(self) -> None:
        # The value itself is left out: messages end up in logs and HTTP answers.
        super().__init__("not a valid NHS number")


def parse_nhs_number(raw: str) -> str:
    """Ten digits (`943 476 5919` → `9434765919`) or InvalidNhsNumber."""
    digits = raw.strip().replace(" ", "").replace("-", "")
    if not is_valid_nhs_number(digits):
        raise InvalidNhsNumber
    return digits
