"""The robot's metrics: the bridge's (``platform="ai"``) plus answers, fallbacks,
hand-offs, first-reply and model latency (docs/ai.md lists them)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from bots.core.metrics import BridgeMetrics

_SECONDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 30)


class AiMetrics(BridgeMetrics):
    def __init__(self) -> None:
        super().__init__("ai")
        r = self.registry
        self.answers = Counter(
            "steadydesk_bridge_ai_answers_total",
            "Replies to visitors by source: generated, retrieved, unsure, handoff",
            ["source"],
            registry=r,
        )
        self.fallbacks = Counter(
            "steadydesk_bridge_ai_fallbacks_total",
            "Answers given from retrieval because generation failed, by reason",
            ["reason"],
            registry=r,
        )
        self.handoffs = Counter(
            "steadydesk_bridge_ai_handoffs_total",
            "Conversations handed to people, by reason",
            ["reason"],
            registry=r,
        )
        self.first_reply = Histogram(
            "steadydesk_bridge_ai_reply_seconds",
            "From a visitor message reaching the robot to its reply being sent",
            registry=r,
            buckets=_SECONDS,
        )
        self.generation = Histogram(
            "steadydesk_bridge_ai_generation_seconds",
            "Calls to the chat-completions endpoint, successful or not",
            ["outcome"],
            registry=r,
            buckets=_SECONDS,
        )
        self.set_breaker("llm", "closed")
