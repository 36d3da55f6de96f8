"""``steadydesk-bridge slack|telegram|ai [--config FILE]``: run one bridge (BRIDGES §2;
the AI responder: docs/ai.md).

Exit status: 0 after SIGTERM/SIGINT, 2 for a configuration problem, 3 when the server
refuses the bridge token (revoked): each failure is one clear line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from typing import TYPE_CHECKING

from bots.core.bridge import Bridge
from bots.core.client import BridgeRevoked
from bots.core.config import BridgeConfig, ConfigError, load_config
from bots.core.platform import Platform

if TYPE_CHECKING:
    from bots.ai.robot import Robot

EXIT_CONFIG = 2
EXIT_REVOKED = 3


def make_platform(config: BridgeConfig) -> Platform:
    if config.kind == "slack":
        from bots.slack.adapter import SlackPlatform

        return SlackPlatform.from_config(config)
    if config.kind == "telegram":
        from bots.telegram.adapter import TelegramPlatform

        return TelegramPlatform.from_config(config)
    raise ConfigError(f"no {config.kind} bridge in this version (slack or telegram)")


async def _run(bridge: Bridge | Robot) -> None:
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, lambda: task.cancel() if task else None)
    with contextlib.suppress(asyncio.CancelledError):
        await bridge.run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="steadydesk-bridge", description="Answer Steadydesk visitors from a chat app."
    )
    parser.add_argument("kind", choices=["slack", "telegram", "ai"])
    parser.add_argument("--config", help="JSON file with settings (the environment wins)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = load_config(args.kind, args.config)
        config.require("server", "token")
        runner: Bridge | Robot
        if config.kind == "ai":
            try:
                from bots.ai.robot import Robot  # bm25s, jieba, openai only for the robot
            except ImportError as exc:
                raise ConfigError(
                    f"the AI robot needs its extra: pip install 'steadydesk[ai]' ({exc})"
                ) from None
            runner = Robot(config)
        else:
            runner = Bridge(config, make_platform(config))
    except ConfigError as exc:
        print(f"steadydesk-bridge: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        asyncio.run(_run(runner))
    except BridgeRevoked as exc:
        print(
            f"steadydesk-bridge: the server refused the bridge token ({exc}); "
            "create a new one with `steadydesk bridge create`",
            file=sys.stderr,
        )
        return EXIT_REVOKED
    except OSError as exc:
        print(f"steadydesk-bridge: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return 0


if __name__ == "__main__":
    sys.exit(main())
