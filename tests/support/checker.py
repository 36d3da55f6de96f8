"""A Jepsen-style checker for message histories.

Record what the clients did (every cid they sent, every ack they got) while faults
happen, read the final stored history afterwards, and let ``check_history`` say what
went wrong: acked messages that were lost, messages stored twice, seq gaps, acks that
disagree with what was stored, and sent cids that never made it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

SenderKey = tuple[str, str]  # (sender type, sender id)


@dataclass(frozen=True)
class Ack:
    """An `ack` a client received for one of its sends."""

    conv: str
    sender: SenderKey
    cid: str
    id: str
    seq: int

    @classmethod
    def from_frame(cls, frame: Mapping[str, Any], sender: SenderKey) -> Ack:
        return cls(str(frame["conv"]), sender, str(frame["cid"]), str(frame["id"]),
                   int(frame["seq"]))


@dataclass(frozen=True)
class Sent:
    """A `send` a client put on the wire (acked or not)."""

    conv: str
    sender: SenderKey
    cid: str


@dataclass
class CheckResult:
    lost: list[Ack] = field(default_factory=list)  # acked, not in the history
    duplicated: list[str] = field(default_factory=list)  # a cid or a seq stored twice
    gaps: dict[str, list[int]] = field(default_factory=dict)  # conv -> missing seqs
    mismatched: list[str] = field(default_factory=list)  # ack's id/seq != stored
    inconsistent_acks: list[str] = field(default_factory=list)  # one cid, two different acks
    never_stored: list[Sent] = field(default_factory=list)  # sent (and retried), not stored
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.gaps or self.mismatched
                    or self.inconsistent_acks or self.never_stored)

    def __str__(self) -> str:
        lines = [f"history check: {'OK' if self.ok else 'FAILED'} {self.counts}"]

        def section(title: str, items: Sequence[Any] | Mapping[str, Any]) -> None:
            if items:
                shown = list(items.items()) if isinstance(items, Mapping) else list(items)
                lines.append(f"  {title} ({len(shown)}):")
                lines.extend(f"    {item}" for item in shown[:20])
                if len(shown) > 20:
                    lines.append(f"    ... and {len(shown) - 20} more")

        section("lost (acked but not stored)", self.lost)
        section("duplicated", self.duplicated)
        section("gaps (conv -> missing seqs)", self.gaps)
        section("ack disagrees with storage", self.mismatched)
        section("one cid acked differently", self.inconsistent_acks)
        section("sent but never stored", self.never_stored)
        return "\n".join(lines)


def _sender_key(message: Mapping[str, Any]) -> SenderKey:
    sender = message.get("sender") or {}
    return (str(sender.get("type")), str(sender.get("id")))


def check_history(
    history: Mapping[str, Iterable[Mapping[str, Any]]],
    acks: Iterable[Ack],
    sent: Iterable[Sent] = (),
    *,
    full_history: bool = True,
) -> CheckResult:
    """Compare what clients were told with what is stored.

    ``history`` maps each conversation to its stored messages (from ``sync`` from 0).
    With ``full_history`` the seqs of each conversation must be exactly 1..max.
    Every ``sent`` cid must be stored exactly once (the caller has retried every
    un-acked send, so nothing may be missing).
    """
    result = CheckResult()
    stored: dict[tuple[str, SenderKey, str], list[Mapping[str, Any]]] = defaultdict(list)
    n_messages = 0
    for conv, messages in history.items():
        seqs: list[int] = []
        for msg in messages:
            n_messages += 1
            seqs.append(int(msg["seq"]))
            if msg.get("cid"):
                stored[(conv, _sender_key(msg), str(msg["cid"]))].append(msg)
        for seq, n in sorted(Counter(seqs).items()):
            if n > 1:
                result.duplicated.append(f"conv {conv}: seq {seq} stored {n} times")
        if seqs:
            low = 1 if full_history else min(seqs)
            missing = sorted(set(range(low, max(seqs) + 1)) - set(seqs))
            if missing:
                result.gaps[conv] = missing
    for (conv, sender, cid), msgs in stored.items():
        if len(msgs) > 1:
            result.duplicated.append(
                f"conv {conv}: cid {cid} from {sender} stored {len(msgs)} times "
                f"(seqs {[m['seq'] for m in msgs]})"
            )

    by_key: dict[tuple[str, SenderKey, str], Ack] = {}
    n_acks = 0
    for ack in acks:
        n_acks += 1
        key = (ack.conv, ack.sender, ack.cid)
        earlier = by_key.setdefault(key, ack)
        if (earlier.id, earlier.seq) != (ack.id, ack.seq):
            result.inconsistent_acks.append(
                f"cid {ack.cid}: acked as id {earlier.id} seq {earlier.seq} "
                f"and as id {ack.id} seq {ack.seq}"
            )
    for key, ack in by_key.items():
        found = stored.get(key)
        if not found:
            result.lost.append(ack)
            continue
        msg = found[0]
        if str(msg["id"]) != ack.id or int(msg["seq"]) != ack.seq:
            result.mismatched.append(
                f"cid {ack.cid}: acked id {ack.id} seq {ack.seq}, "
                f"stored id {msg['id']} seq {msg['seq']}"
            )

    n_sent = 0
    for s in set(sent):
        n_sent += 1
        if (s.conv, s.sender, s.cid) not in stored:
            result.never_stored.append(s)

    result.counts = {"messages": n_messages, "acks": n_acks, "acked_cids": len(by_key),
                     "sent_cids": n_sent}
    return result


def stream_problems(seqs: Sequence[int], expected: Sequence[int]) -> list[str]:
    """What is wrong with one connection's view of a conversation, given what it should be.

    Reports duplicates, reordering, missing and unexpected seqs.
    """
    problems: list[str] = []
    dup = sorted(s for s, n in Counter(seqs).items() if n > 1)
    if dup:
        problems.append(f"seqs received more than once: {dup[:20]}")
    backwards = [(a, b) for a, b in pairwise(seqs) if b <= a]
    if backwards:
        problems.append(f"out of order (prev, next): {backwards[:10]}")
    missing = sorted(set(expected) - set(seqs))
    if missing:
        problems.append(f"missing seqs: {missing[:20]}{' ...' if len(missing) > 20 else ''}")
    extra = sorted(set(seqs) - set(expected))
    if extra:
        problems.append(f"unexpected seqs: {extra[:20]}")
    return problems
