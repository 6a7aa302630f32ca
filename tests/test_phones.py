"""Phone numbers: the quick path for plain mobiles answers exactly what phonenumbers would."""

import random

import phonenumbers
import pytest

from app.errors import InvalidInput
from app.phones import normalize_phone


def _library(text: str) -> str | None:
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _ours(text: str) -> str | None:
    try:
        return normalize_phone(text)
    except InvalidInput:
        return None


def test_eleven_digit_numbers_agree_with_the_library_however_written():
    rng = random.Random(20261201)
    for _ in range(5000):
        digits = "1" + "".join(rng.choice("0123456789") for _ in range(10))
        for text in (digits, f"+86{digits}", f"{digits[:3]} {digits[3:7]} {digits[7:]}", f"+86 {digits}",
                     f"{digits[:3]}-{digits[3:7]}-{digits[7:]}", f"86{digits}", f"0086{digits}"):
            assert _ours(text) == _library(text), text


@pytest.mark.parametrize("text, expected", [
    ("139 1234 5678", "+8613912345678"),
    ("+86 139-1234-5678", "+8613912345678"),
    ("0943-8221234", "+869438221234"),
    ("１３９１２３４５６７８", _library("１３９１２３４５６７８")),  # full-width digits: the library decides
])
def test_common_spellings(text, expected):
    assert _ours(text) == expected


@pytest.mark.parametrize("text", ["", "12345", "1391234567", "139123456789", "10012345678", "abc"])
def test_bad_numbers_are_refused(text):
    assert _ours(text) is None
