"""The Telegram bridge: a forum topic per conversation in the agents' supergroup, on
python-telegram-bot (docs/bridges.md)."""
