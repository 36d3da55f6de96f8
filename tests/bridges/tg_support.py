"""The Telegram bridge as a subprocess against the local Telegram, for the end-to-end
tests and the bench."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tests.bridges.support import BridgeSubprocess
from tests.fakes.telegram import FakeTelegram

WEBHOOK_SECRET = "test-webhook_secret-123"


class TelegramBridge(BridgeSubprocess):
    """``python -m bots telegram``: long polling, or the webhook with ``webhook=True``."""

    kind = "telegram"

    def __init__(
        self,
        data_dir: Path,
        server_url: str,
        token: str,
        telegram: FakeTelegram,
        *,
        webhook: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            data_dir,
            server_url,
            token,
            {
                "TELEGRAM_BOT_TOKEN": telegram.token,
                "TELEGRAM_API_URL": telegram.api_url,
                "TELEGRAM_CHAT": str(telegram.group_id),
                "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
                **dict(env or {}),
            },
        )
        if webhook:
            self.env["TELEGRAM_WEBHOOK_URL"] = self.webhook_url

    @property
    def webhook_url(self) -> str:
        return self.url + "/telegram/webhook"
