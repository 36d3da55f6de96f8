"""The bridge core: everything a chat-app bridge needs except the chat app.

One protocol client (:mod:`bots.core.client`), a durable state store with the outbox and
the mappings (:mod:`bots.core.store`), circuit breakers, the HTTP endpoint with
``/healthz`` and ``/metrics``, configuration, and :class:`bots.core.bridge.Bridge` that
moves conversations between Steadydesk and a :class:`bots.core.platform.Platform`.
"""
