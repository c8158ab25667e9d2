"""What a secret looks like, by its name or by its value.

Policies see every value decrypted, secret or not, so they judge by shape: a variable named like
a credential, or a value in a credential's well-known format (cloud and API keys, private keys,
JWTs), a URL carrying a password, or a long random-looking string. Matches are described by
kind, never echoed.
"""

from __future__ import annotations

import math
import re
from collections import Counter

SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_KEY|ACCESS_KEY|SIGNING_KEY|ENCRYPTION_KEY"
    r"|CREDENTIAL|(^|_)PWD$|(^|_)AUTH$)"
)
CREDENTIAL_FORMATS = (
    ("an AWS access key id", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a GitHub token", re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})")),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("a Stripe key", re.compile(r"\b[sr]k_(live|test)_[A-Za-z0-9]{16,}")),
    ("an API key (sk-…)", re.compile(r"\bsk-[A-Za-z0-9_-]{20,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("a JWT", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
)
URL_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:(?P<password>[^@\s]+)@")
REFERENCE = re.compile(r"\$\{\{[^}]+\}\}")  # Railway resolves `${{Service.VAR}}` itself
RANDOM_LOOKING = re.compile(r"^[A-Za-z0-9+/=_\-.~]{32,}$")
MIN_ENTROPY_BITS = 4.0  # per character: base64 of random bytes scores about 5.5, English words about 3.5


def looks_secret_by_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name.upper()))


def is_reference(value: str) -> bool:
    """A value that is nothing but Railway references: stored as a reference, resolved by Railway."""
    return bool(REFERENCE.search(value)) and not REFERENCE.sub("", value).strip()


def credential_kind(value: str) -> str | None:
    """Which well-known credential format `value` contains, if any."""
    return next((kind for kind, pattern in CREDENTIAL_FORMATS if pattern.search(value)), None)


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def secret_value_kind(value: str) -> str | None:
    """Why `value` looks like a secret (a credential format, a URL with a password, a long random
    string), or None."""
    kind = credential_kind(value)
    if kind:
        return kind
    url = URL_PASSWORD.match(value)
    if url and not is_reference(url.group("password")):
        return "a URL with a password in it"
    has_letters_and_digits = re.search(r"[A-Za-z]", value) and re.search(r"\d", value)
    if RANDOM_LOOKING.match(value) and has_letters_and_digits and _entropy(value) >= MIN_ENTROPY_BITS:
        return "a long random string"
    return None
