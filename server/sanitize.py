"""Text from PostHog may have been written by anyone (a display name, an error string): strip what a model
would read but a person would not see, control characters, zero-width characters and bidi overrides."""

from __future__ import annotations

import re
from typing import Any

_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff"
    "\ufff9-\ufffb\U000e0000-\U000e007f]"
)
"""C0 and C1 controls but tab and newlines, soft hyphen, zero-width and direction marks, line and paragraph
separators, bidi embeddings, overrides and isolates, invisible operators, the BOM, and Unicode tag characters."""


def strip_invisible(value: Any) -> Any:
    """A copy with the invisible characters removed from every string, keys included, at any depth."""
    if isinstance(value, str):
        return _INVISIBLE.sub("", value)
    if isinstance(value, dict):
        return {strip_invisible(key): strip_invisible(item) for key, item in value.items()}
    if isinstance(value, list):
        return [strip_invisible(item) for item in value]
    return value
