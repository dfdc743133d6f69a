"""API keys in the real format (`key_` + 128 hex), stored only as hashes."""

from __future__ import annotations

import hashlib
import re
import secrets

KEY_PATTERN = re.compile(r"^key_[0-9a-f]{128}$")
PREFIX_LENGTH = 12


def generate_key() -> str:
    return "key_" + secrets.token_hex(64)


def is_well_formed(key: str) -> bool:
    return KEY_PATTERN.fullmatch(key) is not None


def hash_key(key: str) -> str:
    """SHA-256 suffices: keys carry 512 random bits, so there is nothing to brute-force or salt against."""
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    return key[:PREFIX_LENGTH]
