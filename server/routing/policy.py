"""Who gets the next offer: pure decision logic, no I/O.

The offer loop (``offers.py``) reads the candidates from the database, asks ``OfferPicker``
and writes the answer with a conditional UPDATE. Everything that decides lives here, so it
is tested without sockets or a database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from server.kernel.enums import AgentStatus, RoutingPolicy

AUTO_POLICIES = frozenset({RoutingPolicy.ROUND_ROBIN, RoutingPolicy.LEAST_LOADED})


@dataclass(frozen=True, slots=True)
class Candidate:
    """One agent as the picker sees it."""

    id: str
    status: str
    capacity: int
    load: int  # open (active) conversations assigned to the agent now
    departments: frozenset[str] = frozenset()
    last_offered_ms: int | None = None  # None: never offered, first in the rotation
    connected: bool = True  # has an open connection somewhere (presence, when known)

    @property
    def has_room(self) -> bool:
        return self.load < self.capacity

    def serves(self, department: str | None, staffed: frozenset[str]) -> bool:
        """A department with members is served by them; one without, by everyone."""
        if department is None or department not in staffed:
            return True
        return department in self.departments


class OfferPicker:
    """Chooses the agent for the next offer of one conversation.

    * ``manual`` departments never get offers (agents pick from the queue).
    * Only ``online``, connected agents with room under their capacity who serve the
      department.
    * Agents already tried for this conversation come last: once everyone eligible has had
      an offer, a new round starts, but never with the agent offered last, unless it is
      the only one left.
    * ``round_robin``: the agent offered longest ago (never offered first).
      ``least_loaded``: the fewest open conversations, then as round robin.
      Remaining ties break on the agent id, so the order is stable.
    """

    def pick(
        self,
        policy: str,
        department: str | None,
        candidates: Iterable[Candidate],
        tried: Sequence[str] = (),
    ) -> str | None:
        if policy not in AUTO_POLICIES:
            return None
        pool = list(candidates)
        staffed = frozenset(d for c in pool for d in c.departments)
        eligible = [
            c
            for c in pool
            if c.status == AgentStatus.ONLINE.value
            and c.connected
            and c.has_room
            and c.serves(department, staffed)
        ]
        if not eligible:
            return None
        seen = set(tried)
        fresh = [c for c in eligible if c.id not in seen]
        if not fresh:
            last = tried[-1] if tried else None
            fresh = [c for c in eligible if c.id != last] or eligible
        return min(fresh, key=self._order(policy)).id

    @staticmethod
    def _order(policy: str) -> Callable[[Candidate], tuple[int, int, str]]:
        least_loaded = policy == RoutingPolicy.LEAST_LOADED.value

        def key(c: Candidate) -> tuple[int, int, str]:
            # Never-offered agents first (-1), then the one offered longest ago.
            offered = -1 if c.last_offered_ms is None else c.last_offered_ms
            return (c.load if least_loaded else 0, offered, c.id)

        return key
