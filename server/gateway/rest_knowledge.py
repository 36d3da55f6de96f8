"""REST for the knowledge base (docs/admin-api.md, "Knowledge") and what the AI robot
reads under its bridge token (docs/bridges.md, "Kind ai"): admins manage and import
articles; an ``ai`` bridge gets its tenant's knowledge (ETag, 304) and how many agents of
its scope are online. Other bridges, agents and visitors are refused those two."""

from __future__ import annotations

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse, empty

from server.admin import knowledge
from server.chat.robots import is_robot
from server.errors import Forbidden
from server.gateway.auth import require_admin, require_bridge
from server.gateway.context import Services
from server.gateway.net import client_ip
from server.gateway.openapi import multipart_files, request_body
from server.kernel.actors import Actor
from server.routing.robots import agents_online

IMPORT_FIELD = "files"


def build_knowledge_blueprint(services: Services) -> Blueprint:
    bp = Blueprint("steadydesk_knowledge", url_prefix="/api/v1")
    store = services.store

    def ip(request: Request) -> str:
        return client_ip(request, services.settings)

    async def require_robot(request: Request) -> Actor:
        actor = await require_bridge(services, request)
        if not is_robot(actor):
            raise Forbidden("this resource is for AI bridges (kind ai)")
        return actor

    @bp.get("/knowledge/articles", ctx_access="admin")
    async def get_articles(request: Request) -> HTTPResponse:
        """The tenant's knowledge-base articles."""
        actor = await require_admin(services, request)
        return json({"articles": await store.run(knowledge.list_articles, actor)})

    @bp.post("/knowledge/articles", ctx_access="admin")
    @request_body(knowledge.ArticleFields)
    async def post_article(request: Request) -> HTTPResponse:
        """Create an article (title, body, language, tags)."""
        actor = await require_admin(services, request)
        made = await store.run(knowledge.do_create_article, actor, request.json, ip(request))
        return json(made, status=201)

    @bp.get("/knowledge/articles/<article_id:str>", ctx_access="admin")
    async def get_article(request: Request, article_id: str) -> HTTPResponse:
        """One article."""
        actor = await require_admin(services, request)
        return json(await store.run(knowledge.get_article, actor, article_id))

    @bp.patch("/knowledge/articles/<article_id:str>", ctx_access="admin")
    @request_body(knowledge.ArticleUpdate)
    async def patch_article(request: Request, article_id: str) -> HTTPResponse:
        """Change an article's title, body, language or tags."""
        actor = await require_admin(services, request)
        return json(
            await store.run(
                knowledge.do_update_article, actor, article_id, request.json, ip(request)
            )
        )

    @bp.delete("/knowledge/articles/<article_id:str>", ctx_access="admin")
    async def delete_article(request: Request, article_id: str) -> HTTPResponse:
        """Delete an article."""
        actor = await require_admin(services, request)
        return json(await store.run(knowledge.do_delete_article, actor, article_id, ip(request)))

    @bp.post("/knowledge/import", ctx_access="admin")
    @multipart_files(IMPORT_FIELD, "Markdown files: the first '# ' heading is the title")
    async def post_import(request: Request) -> HTTPResponse:
        """Import Markdown files as articles (multipart, field files; all or none)."""
        actor = await require_admin(services, request)
        uploaded = request.files.getlist(IMPORT_FIELD) if request.files else []
        files = [(f.name or "article.md", bytes(f.body)) for f in uploaded]
        made = await store.run(knowledge.do_import, actor, files, ip(request))
        return json(made, status=201)

    @bp.get("/bridges/me/knowledge", ctx_access="ai_bridge")
    async def get_robot_knowledge(request: Request) -> HTTPResponse:
        """The AI robot's tenant's articles and team canned replies (ETag; 304 if unchanged)."""
        actor = await require_robot(request)
        known = request.headers.get("if-none-match", "").strip().strip('"') or None
        found = await store.run(knowledge.robot_knowledge, actor, known)
        if found is None:  # unchanged: the body is neither read nor sent
            return empty(status=304, headers={"etag": f'"{known}"'})
        return json(found, headers={"etag": f'"{found["version"]}"'})

    @bp.get("/bridges/me/presence", ctx_access="ai_bridge")
    async def get_robot_presence(request: Request) -> HTTPResponse:
        """How many agents of the AI robot's scope are online, on any node."""
        actor = await require_robot(request)
        return json({"agents_online": await agents_online(services.routing, actor)})

    return bp
