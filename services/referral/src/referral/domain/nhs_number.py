"""NHS numbers as referral accepts them: typed by people, so spaces and dashes are allowed.

The modulus-11 rule and the placeholder list live in `ensemble_contracts.nhs_number`, so every
service agrees on what a valid number is; this module adds parsing and the domain error.
"""

from ensemble_contracts.nhs_number import PLACEHOLDERS, is_valid_nhs_number

__all__ = ["PLACEHOLDERS", "InvalidNhsNumber", "is_valid_nhs_number", "parse_nhs_number"]


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
