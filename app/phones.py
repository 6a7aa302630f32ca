"""Phone numbers as people write them, stored and answered in E.164."""

import re

import phonenumbers
from phonenumbers import PhoneMetadata

from app.errors import InvalidInput

_SEPARATORS = re.compile(r"[ \-]")
# The library's own pattern for Chinese mobiles: a number it matches is one phonenumbers would call valid.
_CN_MOBILE = re.compile(PhoneMetadata.metadata_for_region("CN").mobile.national_number_pattern)


def normalize_phone(raw: str, *, field: str = "phone") -> str:
    """E.164 for a Chinese mobile or landline written any common way; InvalidInput otherwise."""
    text = (raw or "").strip()
    if not text or len(text) > 32:
        raise InvalidInput("invalid_phone", field=field)
    # Most reports give a mobile as 11 digits (perhaps spaced, perhaps +86): answer those without a full parse,
    # which costs more than the rest of taking a report in. Anything else goes through phonenumbers.
    compact = _SEPARATORS.sub("", text).removeprefix("+86")
    if len(compact) == 11 and compact.isascii() and compact.isdigit() and _CN_MOBILE.fullmatch(compact):
        return f"+86{compact}"
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput("invalid_phone", field=field) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput("invalid_phone", field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_phone(e164: str | None) -> str | None:
    """How a number is printed for a person in China (national format)."""
    if not e164:
        return None
    number = phonenumbers.parse(e164, "CN")
    if number.country_code == 86:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
