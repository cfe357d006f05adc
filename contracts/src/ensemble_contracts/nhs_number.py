"""NHS numbers: ten digits with a modulus-11 check digit. Shared so every service agrees."""

from typing import Final

WEIGHTS: Final = (10, 9, 8, 7, 6, 5, 4, 3, 2)

# These pass the check but are used by systems to mean "not known": never a real patient.
PLACEHOLDERS: Final = frozenset({"9999999999", "3333333333", "1111111111", "0000000000"})


def check_digit(first_nine: str) -> int | None:
    """The check digit for nine digits, or None when no valid number can end them."""
    remainder = sum(int(d) * w for d, w in zip(first_nine, WEIGHTS, strict=True)) % 11
    check = 11 - remainder
    if check == 11:
        return 0
    return None if check == 10 else check


def is_valid_nhs_number(value: str) -> bool:
    """True for ten ASCII digits with a correct check digit that are not a placeholder."""
    if len(value) != 10 or not value.isascii() or not value.isdigit():
        return False
    if value in PLACEHOLDERS or len(set(value)) == 1:  # 2222222222 etc. pass the check too
        return False
    return check_digit(value[:9]) == int(value[9])
