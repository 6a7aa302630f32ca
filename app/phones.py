"""Phone numbers as people write them, stored and answered in E.164."""

import phonenumbers

from app.errors import InvalidInput


def normalize_phone(raw: str, *, field: str = "phone") -> str:
    """E.164 for a Chinese mobile or landline written any common way; InvalidInput otherwise."""
    text = (raw or "").strip()
    if not text or len(text) > 32:
        raise InvalidInput("invalid_phone", field=field)
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
