"""A message's fingerprint: its text with the parts that vary (ids, numbers, addresses,
times) replaced by placeholders, hashed, so one error repeated with new ids is one."""

from __future__ import annotations

import hashlib
import re

FINGERPRINT_CHARS = 16
MAX_NORMALISED = 400

# Order matters: the longer, more specific shapes go before bare numbers.
_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?"), "<time>"),
    (re.compile(r"\b\d\d:\d\d:\d\d(?:[.,]\d+)?\b"), "<time>"),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                r"[0-9a-fA-F]{12}\b"), "<uuid>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"), "<ip>"),
    (re.compile(r"\b(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{1,4}\b"), "<ip>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"), "<hex>"),
    (re.compile(r"[-+]?\b\d+(?:\.\d+)?\b"), "<n>"),
)
_SPACES = re.compile(r"\s+")


def normalise(message: str) -> str:
    """The message with its varying parts replaced (``user 42 from 10.0.0.1`` ->
    ``user <n> from <ip>``), whitespace collapsed, cut to a bounded length."""
    text = message[: MAX_NORMALISED * 4]
    for shape, placeholder in _SHAPES:
        text = shape.sub(placeholder, text)
    return _SPACES.sub(" ", text).strip()[:MAX_NORMALISED]


def fingerprint(message: str) -> str:
    """A short stable hash of the normalised message."""
    digest = hashlib.blake2b(normalise(message).encode("utf-8", "replace"), digest_size=16)
    return digest.hexdigest()[:FINGERPRINT_CHARS]
