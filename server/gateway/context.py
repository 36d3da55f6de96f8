"""Everything a request handler needs, built once per node by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from server.admin.service import AdminService
from server.bus import Bus
from server.chat.service import ChatService
from server.config import Settings
from server.routing.presence import Presence
from server.routing.service import RoutingService
from server.security.shared_limits import NonceStore, SharedLimit
from server.security.tokens import TokenSigner
from server.storage.database import Store

if TYPE_CHECKING:
    from server.gateway.hub import Hub


@dataclass
class Services:
    settings: Settings
    store: Store
    bus: Bus
    signer: TokenSigner
    chat: ChatService
    routing: RoutingService
    admin: AdminService
    hub: Hub
    connection_rate: SharedLimit
    nonces: NonceStore
    presence: Presence
    accepting: bool = True  # false once shutdown has begun
