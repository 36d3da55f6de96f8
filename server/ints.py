"""Integers from the wire: JSON has no size limit, the database columns are signed 64-bit.

A client's ``seq``, ``after`` or ``limit`` beyond that range is its mistake (bad_frame on
a socket, 400 over HTTP), not an overflow deep in the driver (issue #11).
"""

from __future__ import annotations

INT64_MAX = 2**63 - 1


def in_int64(value: int) -> bool:
    return -INT64_MAX - 1 <= value <= INT64_MAX
