"""What the robot says to one visitor message: the decision, free of any transport.

In order: a visitor who asks for a person is handed off at once; a question the
knowledge base answers with enough confidence gets the model's grounded answer (when
generation is on and answers in time) or the best article quoted and named; otherwise the
robot says it is not sure, and after ``low_turns`` such turns hands off.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bots.ai.generation import GenerationFailed, Generator
from bots.ai.phrases import asks_for_person, language_of, say
from bots.ai.retrieval import Hit, Index

QUOTE_MAX_CHARS = 1200


@dataclass(frozen=True)
class Policy:
    confidence: float = 0.3  # below it the robot does not guess (bench/ai_retrieval.py)
    low_turns: int = 2  # low-confidence turns in a row before handing off
    first_reply_secs: float = 5.0
    top_k: int = 3


@dataclass(frozen=True)
class Reply:
    text: str
    note: str = ""  # for the agents: articles used and the confidence
    handoff: str | None = None  # a contract reason: visitor_asked, low_confidence, ...
    source: str = ""  # generated | retrieved | handoff | unsure (a metrics label)
    fallback: str = ""  # why generation was not used, when it was tried


@dataclass
class _Turns:
    low: dict[str, int] = field(default_factory=dict)


def quote(hit: Hit, language: str) -> str:
    body = hit.doc.body
    if len(body) > QUOTE_MAX_CHARS:
        body = body[:QUOTE_MAX_CHARS].rstrip() + "…"
    return f"{say('from_article', language, title=hit.doc.title)}\n\n{body}"


def sources_note(hits: list[Hit], source: str, fallback: str = "") -> str:
    used = "; ".join(f"{h.doc.title} [{h.doc.kind} {h.doc.id}]" for h in hits)
    line = f"AI answer ({source}), confidence {hits[0].confidence:.2f}. Sources: {used}"
    return f"{line}. Generation skipped: {fallback}" if fallback else line


class Responder:
    def __init__(self, policy: Policy, generator: Generator | None = None) -> None:
        self.policy = policy
        self.generator = generator
        self.index = Index(())
        self._turns = _Turns()

    def forget(self, conv: str) -> None:
        self._turns.low.pop(conv, None)
        if self.generator is not None:
            self.generator.budget.spent.pop(conv, None)

    async def respond(self, conv: str, text: str, started: float | None = None) -> Reply:
        started = time.monotonic() if started is None else started
        language = language_of(text)
        if asks_for_person(text):
            return Reply(say("handing_off", language), handoff="visitor_asked", source="handoff")
        hits = self.index.search(text, self.policy.top_k)
        if not hits or hits[0].confidence < self.policy.confidence:
            low = self._turns.low.get(conv, 0) + 1
            self._turns.low[conv] = low
            if low >= self.policy.low_turns:
                reason = "no_answer" if not hits else "low_confidence"
                return Reply(say("handing_off", language), handoff=reason, source="handoff")
            return Reply(say("not_sure", language), source="unsure")
        self._turns.low[conv] = 0
        best = [h for h in hits if h.confidence >= self.policy.confidence]
        fallback = ""
        if self.generator is not None:
            deadline = started + self.policy.first_reply_secs
            try:
                answer = await self.generator.answer(conv, text, best, deadline)
                return Reply(answer, sources_note(best, "generated"), source="generated")
            except GenerationFailed as exc:
                fallback = exc.reason
        return Reply(
            quote(best[0], language),
            sources_note(best[:1], "retrieved", fallback),
            source="retrieved",
            fallback=fallback,
        )


__all__ = ["Policy", "Reply", "Responder"]
