import pytest

from ensemble_contracts.nhs_number import check_digit, is_valid_nhs_number


@pytest.mark.parametrize("number", ["9990000018", "9990000026", "9990000034", "9434765919"])
def test_valid_numbers_pass(number: str) -> None:
    assert is_valid_nhs_number(number)


@pytest.mark.parametrize("number", ["9434765918", "9999999998"])
def test_a_wrong_check_digit_fails(number: str) -> None:
    assert not is_valid_nhs_number(number)


@pytest.mark.parametrize("number", ["9999999999", "3333333333", "1111111111", "0000000000"])
def test_placeholders_pass_the_check_but_are_not_patients(number: str) -> None:
    assert check_digit(number[:9]) == int(number[9])
    assert not is_valid_nhs_number(number)


@pytest.mark.parametrize("number", ["", "999000001", "99900000188", "999 000 0018", "999000001a"])
def test_anything_but_ten_digits_fails(number: str) -> None:
    assert not is_valid_nhs_number(number)


def test_a_remainder_giving_ten_means_no_valid_number() -> None:
    # 10*0 + ... : find nine digits whose check would be 10, then every last digit fails.
    first_nine = next(f"{n:09d}" for n in range(1000) if check_digit(f"{n:09d}") is None)
    assert not any(is_valid_nhs_number(f"{first_nine}{d}") for d in range(10))
