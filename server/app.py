"""``create_app(settings)``: wire storage, bus, domain services and the gateway into Sanic."""

from __future__ import annotations

import itertools
import logging

import redis.asyncio as aioredis
from sanic import Sanic

from backups.scheduler import BackupScheduler
from server.admin.service import AdminService
from server.admin.token_keys import load_imported_key, preload_imported_keys
from server.bus import Bus
from server.bus.local import LocalBus
from server.bus.redis import RedisBus
from server.chat import settings_changes
from server.chat.attachments import AttachmentService
from server.chat.bus_codec import ChatCodec
from server.chat.directory import ConversationDirectory
from server.chat.events import MessagePublisher
from server.chat.service import ChatService
from server.chat.writer import GroupCommitWriter
from server.config import Settings, ensure_secret_key
from server.errors import CloseCode
from server.gateway.api_docs import build_api_docs_blueprint
from server.gateway.context import Services
from server.gateway.errors import JsonErrorHandler
from server.gateway.http import build_blueprint, install_middleware
from server.gateway.hub import Hub
from server.gateway.openapi import install_openapi
from server.gateway.rest import build_rest_blueprint
from server.gateway.rest_admin import build_admin_blueprint
from server.gateway.rest_admin_agents import build_admin_agents_blueprint
from server.gateway.rest_attachments import build_attachments_blueprint
from server.gateway.rest_bridges import build_bridges_blueprint
from server.gateway.rest_context import build_context_blueprint
from server.gateway.rest_export import build_export_blueprint
from server.gateway.rest_knowledge import build_knowledge_blueprint
from server.gateway.rest_monitor import build_monitor_blueprint
from server.gateway.rest_operator import build_operator_blueprint
from server.gateway.rest_rating import build_rating_blueprint
from server.gateway.rest_reports import build_reports_blueprint
from server.gateway.rest_routing import build_routing_blueprint
from server.gateway.router import HeadAsGetRouter
from server.gateway.widget_routes import build_widget_blueprint
from server.observability import memtrace
from server.observability.metrics import observe_batch
from server.observability.node_report import KeyReporter
from server.routing.presence import Presence, PresenceStore
from server.routing.presence_store import LocalPresenceStore, RedisPresenceStore
from server.routing.service import RoutingService
from server.security.attachment_links import AttachmentLinks
from server.security.shared_limits import (
    REDIS_TIMEOUT_SECS,
    LocalLimit,
    LocalNonces,
    NonceStore,
    RedisLimit,
    RedisNonces,
    SharedLimit,
)
from server.security.tokens import TenantKeys, TokenSigner
from server.storage import open_store
from server.storage.blobs import blob_stores
from server.storage.s3_location import s3_location

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 64 * 1024
MAX_REQUEST_BYTES = 256 * 1024
_app_names = itertools.count(1)


def make_bus(settings: Settings) -> Bus:
    if settings.redis_url:
        per_topic = settings.bus_subscribe == "topics"
        return RedisBus(
            settings.redis_url, settings.node_name, per_topic=per_topic, codec=ChatCodec()
        )
    return LocalBus()


def make_shared_state(settings: Settings) -> tuple[SharedLimit, NonceStore]:
    """The per-IP connection limit and the request nonces: in Redis when nodes share one."""
    if settings.redis_url:
        client = aioredis.Redis.from_url(
            settings.redis_url,
            socket_timeout=REDIS_TIMEOUT_SECS,
            socket_connect_timeout=REDIS_TIMEOUT_SECS,
        )
        return RedisLimit(client, "conn-ip", settings.conn_rate_ip, 60), RedisNonces(client)
    return LocalLimit(settings.conn_rate_ip, 60.0), LocalNonces()


def make_presence(settings: Settings, bus: Bus) -> Presence:
    """Who is connected: shared in Redis (entries expire 3 refreshes after a node dies)."""
    store: PresenceStore = LocalPresenceStore()
    if settings.redis_url:
        client = aioredis.Redis.from_url(
            settings.redis_url,
            socket_timeout=REDIS_TIMEOUT_SECS,
            socket_connect_timeout=REDIS_TIMEOUT_SECS,
        )
        ttl_secs = 3 * settings.presence_refresh_secs
        store = RedisPresenceStore(client, settings.node_name, ttl_secs)
    return Presence(
        store,
        bus,
        refresh_secs=settings.presence_refresh_secs,
        debounce_secs=settings.presence_debounce_secs,
    )


def create_app(settings: Settings) -> Sanic:
    store = open_store(settings)
    bus = make_bus(settings)
    directory = ConversationDirectory(store)

    writer = GroupCommitWriter(
        store.database,
        batch_max=settings.commit_batch_max,
        mysql_lanes=settings.writer_lanes,
        commit_interval=settings.commit_interval_ms / 1000,
        publish=MessagePublisher(bus),  # chat's message event, after each batch's commit
        observe_batch=observe_batch,
    )
    presence = make_presence(settings, bus)
    chat = ChatService(
        store, bus, directory, writer, body_max_chars=settings.body_max_chars, presence=presence
    )
    settings_changes.follow(bus, chat.masking)  # an admin's change, made on any node
    connection_rate, nonces = make_shared_state(settings)
    secret_key = ensure_secret_key(settings)
    tenant_keys = TenantKeys(secret_key, load_imported_key)
    routing = RoutingService(
        store,
        bus,
        directory,
        presence,
        sweep_secs=settings.offer_sweep_secs,
        robot_grace_secs=settings.ai_handback_secs,
    )
    chat.hooks = routing
    chat.attachments = AttachmentService(
        store,
        directory,
        blob_stores(settings.attachment_dir, s3_location(settings)),
        AttachmentLinks(secret_key, settings.attachment_url_ttl_secs),
    )
    backup_scheduler = BackupScheduler(settings, store.database)
    # Uploads no message claimed within a day go (server/chat/attachments.py).
    backup_scheduler.add_chore(
        "attachments-gc", chat.attachments.collect_unclaimed, settings.attachment_gc_secs
    )
    key_reporter = KeyReporter(store, settings.node_name, settings.key_report_secs)
    services = Services(
        settings=settings,
        store=store,
        bus=bus,
        signer=TokenSigner(secret_key, tenant_keys),
        chat=chat,
        routing=routing,
        admin=AdminService(store, bus, routing, chat.masking),
        hub=Hub(bus, chat, presence),
        connection_rate=connection_rate,
        nonces=nonces,
        presence=presence,
    )

    number = next(_app_names)  # Sanic keeps a registry of names; tests build several apps
    app = Sanic(
        "steadydesk" if number == 1 else f"steadydesk{number}",
        error_handler=JsonErrorHandler(),
        router=HeadAsGetRouter(),
        configure_logging=False,  # one format: the CLI configures logging
    )
    app.config.update(
        {
            "WEBSOCKET_MAX_SIZE": MAX_FRAME_BYTES,
            "WEBSOCKET_PING_INTERVAL": settings.heartbeat_secs,
            # Unanswered for a second interval: the peer is gone.
            "WEBSOCKET_PING_TIMEOUT": settings.heartbeat_secs,
            "REQUEST_MAX_SIZE": MAX_REQUEST_BYTES,
            "GRACEFUL_SHUTDOWN_TIMEOUT": settings.shutdown_timeout_secs,
            "KEEP_ALIVE_TIMEOUT": 75,
            "FALLBACK_ERROR_FORMAT": "json",
            # sanic-ext is installed for its OpenAPI builder only; nothing else is automatic.
            "AUTO_EXTEND": False,
        }
    )
    app.ctx.services = services
    install_middleware(app, services)
    app.blueprint(build_blueprint(services))
    app.blueprint(build_widget_blueprint(services))
    app.blueprint(build_rest_blueprint(services))
    app.blueprint(build_routing_blueprint(services))
    app.blueprint(build_context_blueprint(services))
    app.blueprint(build_rating_blueprint(services))
    app.blueprint(build_reports_blueprint(services))
    app.blueprint(build_monitor_blueprint(services))
    app.blueprint(build_admin_blueprint(services))
    app.blueprint(build_admin_agents_blueprint(services))
    app.blueprint(build_bridges_blueprint(services))
    app.blueprint(build_knowledge_blueprint(services))
    app.blueprint(build_operator_blueprint(services))
    app.blueprint(build_export_blueprint(services))
    app.blueprint(build_attachments_blueprint(services))
    app.blueprint(build_api_docs_blueprint())
    install_openapi(app)  # last: it documents every route registered above

    @app.before_server_start
    async def start(app: Sanic) -> None:
        if settings.tracemalloc_dir:
            memtrace.install(settings.tracemalloc_dir)
        await store.run(preload_imported_keys, tenant_keys)
        await key_reporter.start()
        await bus.start()
        writer.start()
        await presence.start()
        routing.start_sweeper()
        backup_scheduler.start()

    @app.before_server_stop
    async def drain(app: Sanic) -> None:
        services.accepting = False
        await backup_scheduler.stop()
        await routing.stop_sweeper()
        # 1012 first: clients reconnect at once (to another node) and resume.
        await services.hub.close_all(CloseCode.SERVICE_RESTART, "server restarting")
        await writer.drain_and_stop(settings.shutdown_timeout_secs)
        await key_reporter.stop()  # after the last write sealed with this node's key
        await presence.stop()
        await bus.stop()

    @app.after_server_stop
    async def close_store(app: Sanic) -> None:
        store.close()

    return app
