"""Personal data: normalise, pseudonymise with a keyed hash, and mask for display.

The clear value stays in the restricted raw schema only. The keyed hash (HMAC-SHA256 with the
secret from `minqing.config.hash_key`) lets the marts count repeat complainants without knowing
who they are; the masked form (`138****5678`, `张*`) is what a person may see.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from functools import lru_cache

from minqing import config

_SEPARATORS = re.compile(r"[\s\-()（）]")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{9,11}$")
ANONYMOUS = {"匿名", "无", "不详", "未留", "-"}


@lru_cache(maxsize=1)
def _key() -> bytes:
    return config.hash_key()


def keyed_hash(kind: str, value: str, key: bytes | None = None) -> str:
    return _keyed_hash(key or _key(), kind, value)


@lru_cache(maxsize=200_000)
def _keyed_hash(key: bytes, kind: str, value: str) -> str:
    # Cached by key too: a repeat complainant's number is hashed once per process, and a rotated key
    # never meets a stale entry. surrogatepass: a lone surrogate from a JSON \ud800 escape hashes;
    # the loader quarantines its record.
    return hmac.new(key, f"{kind}:{value}".encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:32]


def key_fingerprint(key: bytes | None = None) -> str:
    """A fingerprint of the hashing key (not the key): the warehouse records it, so that data hashed
    with two different keys is never mixed by mistake."""
    return hmac.new(key or _key(), b"minqing hash key fingerprint", hashlib.sha256).hexdigest()[:16]


def normalise_phone(raw: str | None) -> str | None:
    """Digits of a full phone number (mobile or landline with area code); None if masked or absent."""
    if not raw:
        return None
    digits = _SEPARATORS.sub("", raw)
    if "*" in digits:
        return None
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if _MOBILE.match(digits) or _LANDLINE.match(digits):
        return digits
    return None


def mask_phone(raw: str | None) -> str | None:
    if not raw:
        return None
    digits = normalise_phone(raw)
    if digits is None:
        compact = _SEPARATORS.sub("", raw)
        # Already masked by the source (138****5678) is safe to show; anything else is hidden.
        return compact if "*" in compact else "****"
    if _MOBILE.match(digits):
        return f"{digits[:3]}****{digits[-4:]}"
    area = 3 if digits[1] in "12" else 4  # 010, 02x are three digits; the rest four
    return f"{digits[:area]}-****{digits[-4:]}"


def mask_name(raw: str | None) -> str | None:
    if not raw:
        return None
    name = raw.strip()
    if name in ANONYMOUS:
        return name
    return name[0] + "*" * max(len(name) - 1, 1)


def phone_key(raw: str | None, key: bytes | None = None) -> str | None:
    digits = normalise_phone(raw)
    return keyed_hash("phone", digits, key) if digits else None


def person(name: str | None, phone: str | None) -> dict:
    """Key and masks for a complainant: the same phone gives the same key in every channel."""
    return {"key": phone_key(phone), "name_masked": mask_name(name), "phone_masked": mask_phone(phone)}
