"""The tenant's knowledge base (docs/admin-api.md, "Knowledge"): articles the AI robot
answers from. Admins create, change, delete and import them (audited); the robot reads
its own tenant's, with the team's canned replies, under its bridge token (``robot_knowledge``).

Every query goes through the caller's ``TenantScope``: another tenant's articles cannot
be named, listed or served, whatever a request or an article says.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import orjson
from peewee import fn
from pydantic import BaseModel, ConfigDict, Field, field_validator

from server.errors import BadRequest, NotFound
from server.foundation import audit
from server.foundation.tx import admin_transaction
from server.foundation.validation import iso, parse
from server.ids import new_id
from server.kernel.actors import Actor
from server.storage.guard import TenantScope
from server.storage.models import CannedReply, KnowledgeArticle, utcnow

TITLE_MAX = 300
BODY_MAX = 20_000  # characters; an article is a page, not a manual
MAX_TAGS = 20
TAG_MAX = 50
LIST_MAX = 2000
IMPORT_MAX_FILES = 100
IMPORT_MAX_BYTES = 200 * 2**10  # one Markdown file
LANGUAGE = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"  # BCP 47-ish: en, zh-Hans, zh-Hant, pt-BR


def _clean_tags(tags: list[str]) -> list[str]:
    cleaned = []
    for tag in tags:
        tag = tag.strip()
        if not tag or len(tag) > TAG_MAX:
            raise ValueError(f"a tag has 1..{TAG_MAX} characters")
        if tag not in cleaned:
            cleaned.append(tag)
    return cleaned


class ArticleFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=TITLE_MAX)
    body: str = Field(min_length=1, max_length=BODY_MAX)
    language: str = Field("en", pattern=LANGUAGE, max_length=35)
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)

    @field_validator("title", "body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return _clean_tags(value)


class ArticleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=TITLE_MAX)
    body: str | None = Field(default=None, min_length=1, max_length=BODY_MAX)
    language: str | None = Field(default=None, pattern=LANGUAGE, max_length=35)
    tags: list[str] | None = Field(default=None, max_length=MAX_TAGS)

    @field_validator("title", "body")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return None if value is None else value.strip()

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _clean_tags(value)


def article_view(row: KnowledgeArticle) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "body": row.body,
        "language": row.language,
        "tags": json.loads(row.tags or "[]"),
        "updated_at": iso(row.updated_at),
    }


def _access(scope: TenantScope, article_id: str) -> KnowledgeArticle:
    row = scope.get_or_none(KnowledgeArticle, KnowledgeArticle.id == article_id[:26])
    if row is None:
        raise NotFound("no such article")
    return row


def _articles(scope: TenantScope) -> list[KnowledgeArticle]:
    query = scope.select(KnowledgeArticle).order_by(KnowledgeArticle.id)
    return list(query.limit(LIST_MAX))


def list_articles(actor: Actor) -> list[dict[str, Any]]:
    return [article_view(row) for row in _articles(TenantScope(actor.tenant_id))]


def get_article(actor: Actor, article_id: str) -> dict[str, Any]:
    return article_view(_access(TenantScope(actor.tenant_id), article_id))


def _create(scope: TenantScope, data: ArticleFields) -> KnowledgeArticle:
    now = utcnow()
    return scope.create(
        KnowledgeArticle,
        id=new_id(),
        title=data.title,
        body=data.body,
        language=data.language,
        tags=json.dumps(data.tags),
        created_at=now,
        updated_at=now,
    )


def do_create_article(actor: Actor, fields: object, ip: str) -> dict[str, Any]:
    data = parse(ArticleFields, fields)
    scope = TenantScope(actor.tenant_id)
    with admin_transaction():
        row = _create(scope, data)
        audit.record(actor, "knowledge.create", row.id, {"title": data.title}, ip)
    return article_view(row)


def do_update_article(actor: Actor, article_id: str, fields: object, ip: str) -> dict[str, Any]:
    scope = TenantScope(actor.tenant_id)
    _access(scope, article_id)  # 404 before 400
    changes = parse(ArticleUpdate, fields).model_dump(exclude_unset=True, exclude_none=True)
    with admin_transaction():
        row = _access(scope, article_id)
        values: dict[str, Any] = dict(changes)
        if "tags" in values:
            values["tags"] = json.dumps(values["tags"])
        if values:
            values["updated_at"] = utcnow()
            scope.update(KnowledgeArticle, **values).where(KnowledgeArticle.id == row.id).execute()
        audit.record(actor, "knowledge.update", row.id, {"fields": sorted(changes)}, ip)
        return article_view(_access(scope, row.id))


def do_delete_article(actor: Actor, article_id: str, ip: str) -> dict[str, Any]:
    scope = TenantScope(actor.tenant_id)
    with admin_transaction():
        row = _access(scope, article_id)
        scope.delete(KnowledgeArticle).where(KnowledgeArticle.id == row.id).execute()
        audit.record(actor, "knowledge.delete", row.id, {"title": row.title}, ip)
    return {"deleted": row.id}


# -- Markdown import -----------------------------------------------------------------------
_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


def parse_markdown(name: str, text: str) -> dict[str, Any]:
    """An article from a Markdown file: optional front matter (``language:``, ``tags:``),
    the first ``# `` heading as the title (else the file's name), the rest as the body."""
    fields: dict[str, Any] = {}
    front = _FRONT.match(text)
    if front:
        text = text[front.end() :]
        for line in front.group(1).splitlines():
            key, sep, value = line.partition(":")
            if not sep:
                continue
            key, value = key.strip().lower(), value.strip()
            if key == "language" and value:
                fields["language"] = value.strip("\"'")
            elif key == "tags" and value:
                items = value.strip("[]").split(",")
                fields["tags"] = [t.strip().strip("\"'") for t in items if t.strip().strip("\"'")]
    lines = text.splitlines()
    title = None
    for index, line in enumerate(lines):
        if line.startswith("# "):
            title = line[2:].strip()
            lines = lines[:index] + lines[index + 1 :]
            break
    fields["title"] = title or re.sub(r"\.(md|markdown)$", "", name, flags=re.IGNORECASE)
    fields["body"] = "\n".join(lines).strip()
    return fields


def do_import(actor: Actor, files: list[tuple[str, bytes]], ip: str) -> dict[str, Any]:
    """Create one article per Markdown file; all or none (the first bad file is named)."""
    if not files:
        raise BadRequest("no files: send one or more .md files")
    if len(files) > IMPORT_MAX_FILES:
        raise BadRequest(f"at most {IMPORT_MAX_FILES} files at once")
    parsed = []
    for name, raw in files:
        if len(raw) > IMPORT_MAX_BYTES:
            raise BadRequest(f"{name}: larger than {IMPORT_MAX_BYTES} bytes")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadRequest(f"{name}: not UTF-8 text") from None
        try:
            parsed.append(parse(ArticleFields, parse_markdown(name, text)))
        except BadRequest as err:
            raise BadRequest(f"{name}: {err.message}") from None
    scope = TenantScope(actor.tenant_id)
    with admin_transaction():
        rows = [_create(scope, data) for data in parsed]
        audit.record(
            actor,
            "knowledge.import",
            "",
            {"articles": [r.id for r in rows], "files": len(rows)},
            ip,
        )
    return {"articles": [article_view(r) for r in rows]}


# -- for the robot -------------------------------------------------------------------------
def knowledge_version(tenant_id: str) -> str:
    """A version of the tenant's knowledge that changes with any article or team canned
    reply made, changed or deleted: the count and the newest change time of each (a delete
    changes a count; a creation or an edit the newest time). Two aggregates, no bodies
    read, so a robot's poll that changed nothing is cheap (304)."""
    scope = TenantScope(tenant_id)
    articles = scope.select(
        KnowledgeArticle, fn.COUNT(KnowledgeArticle.id), fn.MAX(KnowledgeArticle.updated_at)
    )
    changed = fn.COALESCE(CannedReply.updated_at, CannedReply.created_at)
    canned = scope.select(CannedReply, fn.COUNT(CannedReply.id), fn.MAX(changed)).where(
        CannedReply.agent_id.is_null()
    )
    marks = [articles.tuples().first(), canned.tuples().first()]
    return hashlib.sha256(orjson.dumps(marks, default=str)).hexdigest()[:32]


def robot_knowledge(actor: Actor, known: str | None = None) -> dict[str, Any] | None:
    """The robot's tenant's articles and team canned replies with their ``version``;
    None when ``known`` is that version already (nothing changed: the robot gets a 304)."""
    version = knowledge_version(actor.tenant_id)
    if known is not None and known == version:
        return None
    scope = TenantScope(actor.tenant_id)
    fields = (
        KnowledgeArticle.id,
        KnowledgeArticle.title,
        KnowledgeArticle.body,
        KnowledgeArticle.language,
        KnowledgeArticle.tags,
        KnowledgeArticle.updated_at,
    )
    rows = scope.select(KnowledgeArticle, *fields).order_by(KnowledgeArticle.id).limit(LIST_MAX)
    articles = [
        {
            "id": ident,
            "title": title,
            "body": body,
            "language": language,
            "tags": json.loads(tags or "[]"),
            "updated_at": iso(updated_at),
        }
        for ident, title, body, language, tags, updated_at in rows.tuples()
    ]
    canned_rows = (
        scope.select(CannedReply, CannedReply.id, CannedReply.shortcut, CannedReply.body)
        .where(CannedReply.agent_id.is_null())
        .order_by(CannedReply.id)
        .limit(LIST_MAX)
    )
    canned = [
        {"id": ident, "title": shortcut, "body": body}
        for ident, shortcut, body in canned_rows.tuples()
    ]
    return {"articles": articles, "canned": canned, "version": version}
