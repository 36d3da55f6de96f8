"""Conversations and messages: idempotent send, gap-free seq, replay. No transport here."""
