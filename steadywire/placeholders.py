"""Canned-reply placeholders (``{visitor.name}``, ``{agent.name}``, ...): one syntax, one
expansion, for the server's ``render`` route and the console's offline fallback.

Expanded in one pass over the template: a filled-in value is never scanned again (a
visitor named ``{agent.name}`` stays just that), unknown placeholders stay as written,
and there is no ``str.format`` to reach attributes through.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PLACEHOLDER_RE = re.compile(r"\{([a-z]+\.[a-z_]+)\}")
PLACEHOLDERS = ("visitor.name", "visitor.email", "agent.name", "conversation.id")


def expand(template: str, values: Mapping[str, str]) -> str:
    """Known placeholders replaced in one pass; unknown ones left exactly as written."""
    return PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), template)
