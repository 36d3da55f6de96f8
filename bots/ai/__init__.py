"""The AI responder (issue #20): a bridge of kind ``ai`` that answers visitors from its
tenant's knowledge base, optionally through an OpenAI-compatible model, and hands off to
a person. It is only a client of the wire protocol (docs/ai.md)."""
