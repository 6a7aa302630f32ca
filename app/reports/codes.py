"""Tracking codes a person can read over the phone, and upload tokens."""

import hashlib
import re
import secrets

# No 0/O, 1/I/L: nothing that sounds or looks like another character.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 10  # 31^10: about 50 bits, far beyond guessing through a rate-limited API
_CLEAN = re.compile(r"[\s\-]")


_SPACE = len(ALPHABET) ** LENGTH


def new_tracking_code() -> str:
    """Uniform over every code: one draw from the OS's generator, written in base 31."""
    number, digits = secrets.randbelow(_SPACE), []
    for _ in range(LENGTH):
        number, digit = divmod(number, len(ALPHABET))
        digits.append(ALPHABET[digit])
    return "".join(digits)


def format_tracking_code(code: str) -> str:
    """As printed and read aloud: two groups of five."""
    return f"{code[:5]}-{code[5:]}"


def parse_tracking_code(text: str) -> str | None:
    """The stored form of a code as a person typed it (any case, dashes, spaces), or None."""
    code = _CLEAN.sub("", text or "").upper()
    if len(code) != LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code


def new_upload_token() -> str:
    return secrets.token_urlsafe(24)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
