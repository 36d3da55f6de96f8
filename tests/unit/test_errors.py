"""server/errors.py: one error tree whose codes are the wire package's."""

from __future__ import annotations

import steadywire
from server import errors


def test_error_and_close_codes_are_the_wire_packages() -> None:
    assert errors.ErrorCode is steadywire.ErrorCode
    assert errors.CloseCode is steadywire.CloseCode


def test_an_error_carries_the_close_code_of_a_connection_refused_for_it() -> None:
    assert errors.Unauthorized("expired").close_code is steadywire.CloseCode.BAD_TOKEN
    assert errors.Unauthorized("expired").close_code.final  # the handshake gives its reason
    for storage_trouble in (errors.Unavailable("down"), errors.SteadyError("odd")):
        assert storage_trouble.close_code is steadywire.CloseCode.TRY_AGAIN_LATER
        assert storage_trouble.close_code.reconnect_at_once
