"""Make ``alt+1`` … ``alt+9`` reach the app as keys (the tab switch keys).

Terminals send alt+digit as ESC followed by the digit. Textual (8.x) maps exactly those
sequences to the characters macOS types with Option+digit (``¡``, ``™``, ``£`` ...; see
``textual._ansi_sequences``, "WezTerm on macOS"), so the keys never arrive as
``alt+1``. Dropping those ten entries lets Textual's own alt handling see ESC+digit as
``alt+<digit>``. Characters typed directly (a ``£`` on a UK keyboard) are not affected:
only the two-byte ESC sequences are. tests/tui/test_units.py checks that this still
works with the installed Textual.
"""

from __future__ import annotations

from typing import cast

from textual import _ansi_sequences


def enable_alt_digits() -> None:
    table = cast("dict[str, object]", _ansi_sequences.ANSI_SEQUENCES_KEYS)  # a dict at runtime
    for digit in "0123456789":
        table.pop(f"\x1b{digit}", None)
