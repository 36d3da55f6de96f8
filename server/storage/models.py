"""Tables. Every model that holds tenant data has ``tenant_id`` and is guarded (see guard.py)."""

from __future__ import annotations

import peewee as pw

from server.kernel.enums import (
    AgentStatus,
    AiMode,
    ConversationStatus,
    MessageKind,
    Role,
    RoutingPolicy,
)
from server.storage.column_defaults import declare_database_defaults
from server.storage.database import db
from server.storage.sealed import SealedBlobField, SealedCharField, SealedTextField
from server.times import utcnow as utcnow  # re-exported: the columns' default, and callers'


class DateTimeMsField(pw.DateTimeField):
    """A naive UTC time to the millisecond: ``DATETIME(3)`` on MySQL/MariaDB (migration 9);
    SQLite keeps peewee's text (``YYYY-MM-DD HH:MM:SS[.ffffff]``, which sorts as time)."""

    def get_modifiers(self) -> list[int]:
        return [3]


class BaseModel(pw.Model):
    tenant_owned = False

    class Meta:
        database = db
        legacy_table_names = False


class TenantModel(BaseModel):
    """Tenant-owned rows: queries must go through a ``TenantScope``."""

    tenant_owned = True
    tenant_id = pw.CharField(max_length=64, index=True)


class SchemaMigration(BaseModel):
    version = pw.IntegerField(primary_key=True)
    name = pw.CharField(max_length=100)
    applied_at = DateTimeMsField(default=utcnow)


class Tenant(BaseModel):
    id = pw.CharField(max_length=64, primary_key=True)
    name = pw.CharField(max_length=200)
    created_at = DateTimeMsField(default=utcnow)


class Site(TenantModel):
    id = pw.CharField(max_length=40, primary_key=True)  # the public site_key
    name = pw.CharField(max_length=200)
    # Sealed at rest when encryption is on (identity hashes need the secret itself).
    secret = SealedCharField(max_length=255)
    allowed_origins = pw.TextField(default="[]")  # JSON list of exact origins
    require_timed_hash = pw.BooleanField(default=False)
    user_hash_max_age_secs = pw.IntegerField(null=True)
    csat_enabled = pw.BooleanField(default=True)  # offer visitors a rating on close
    created_at = DateTimeMsField(default=utcnow)
    # Routing (migration 3): JSON working hours and pre-chat form, NULL = not configured.
    hours = pw.TextField(null=True)
    welcome_message = pw.TextField(null=True)
    after_hours_message = pw.TextField(null=True)
    prechat = pw.TextField(null=True)
    # migration 12; the database default too, so a previous release's INSERT (which names
    # no ai_mode) works on a table made fresh by this one, as on an upgraded one.
    ai_mode = pw.CharField(
        max_length=16, default=AiMode.OFF.value, constraints=[pw.SQL("DEFAULT 'off'")]
    )


class Department(TenantModel):
    id = pw.CharField(max_length=26, primary_key=True)
    name = pw.CharField(max_length=200)
    created_at = DateTimeMsField(default=utcnow)
    policy = pw.CharField(max_length=16, default=RoutingPolicy.MANUAL.value)
    offer_timeout_secs = pw.IntegerField(default=30)

    class Meta:
        indexes = ((("tenant_id", "name"), True),)


class Agent(TenantModel):
    id = pw.CharField(max_length=26, primary_key=True)
    email = pw.CharField(max_length=254)
    name = pw.CharField(max_length=200)
    password_hash = pw.CharField(max_length=255)
    role = pw.CharField(max_length=16, default=Role.AGENT.value)
    capacity = pw.IntegerField(default=5)
    status = pw.CharField(max_length=16, default=AgentStatus.OFFLINE.value)
    disabled = pw.BooleanField(default=False)
    token_version = pw.IntegerField(default=1)  # bumped to revoke every token at once
    created_at = DateTimeMsField(default=utcnow)
    last_offered_ms = pw.BigIntegerField(null=True)  # round robin rotates on this

    class Meta:
        indexes = ((("tenant_id", "email"), True),)


class AgentDepartment(TenantModel):
    agent_id = pw.CharField(max_length=26)
    department_id = pw.CharField(max_length=26)

    class Meta:
        indexes = ((("agent_id", "department_id"), True),)


class Visitor(TenantModel):
    id = pw.CharField(max_length=26, primary_key=True)
    site_id = pw.CharField(max_length=40)
    user_id = pw.CharField(max_length=191, null=True)  # the site's own user id, when verified
    # Sealed at rest when encryption is on: sized for the envelope of the longest plain
    # text (254 characters of 4 UTF-8 bytes: about 1,430), not for the plain text.
    name = SealedCharField(max_length=1500, default="")
    email = SealedCharField(max_length=1500, default="")
    language = pw.CharField(max_length=35, default="")
    ip = pw.CharField(max_length=45, default="")
    user_agent = pw.CharField(max_length=500, default="")
    referrer = pw.CharField(max_length=1000, default="")
    page_url = pw.CharField(max_length=1000, default="")
    visit_count = pw.IntegerField(default=1)
    created_at = DateTimeMsField(default=utcnow)
    last_seen_at = DateTimeMsField(default=utcnow)
    department_id = pw.CharField(max_length=26, null=True)  # chosen in the pre-chat form

    class Meta:
        indexes = ((("site_id", "user_id"), True),)


class Conversation(TenantModel):
    id = pw.CharField(max_length=26, primary_key=True)
    site_id = pw.CharField(max_length=40)
    visitor_id = pw.CharField(max_length=26, index=True)
    department_id = pw.CharField(max_length=26, null=True)
    status = pw.CharField(max_length=16, default=ConversationStatus.QUEUED.value)
    assignee_id = pw.CharField(max_length=26, null=True, index=True)
    last_seq = pw.BigIntegerField(default=0)
    # Equals visitor_id while the conversation is open, NULL once closed: a unique
    # index then allows one open conversation per visitor on SQLite and MySQL alike.
    open_key = pw.CharField(max_length=26, null=True, unique=True)
    previous_id = pw.CharField(max_length=26, null=True)
    visitor_read_seq = pw.BigIntegerField(default=0)
    agent_read_seq = pw.BigIntegerField(default=0)
    created_at = DateTimeMsField(default=utcnow)
    assigned_at = DateTimeMsField(null=True)
    closed_at = DateTimeMsField(null=True)
    # CSAT: set once by the visitor after the conversation closed.
    rating = pw.SmallIntegerField(null=True)
    rating_comment = SealedTextField(null=True)
    rated_at = DateTimeMsField(null=True)
    # Auto-assignment (migration 3). offer_seq moves on every offer: a conditional UPDATE
    # on it lets exactly one node take an expired offer over.
    offered_to = pw.CharField(max_length=26, null=True)
    offered_at = DateTimeMsField(null=True)
    offer_deadline_ms = pw.BigIntegerField(null=True, index=True)
    offer_seq = pw.IntegerField(default=0)
    offers_tried = pw.CharField(max_length=600, default="")  # recent offerees, comma-separated
    offline = pw.BooleanField(default=False)  # started outside hours or with nobody online
    # NULL: ``assignee_id`` is an agent; "ai": the AI bridge holding it (migration 12).
    assignee_type = pw.CharField(max_length=16, null=True)
    # One up with every change of the labels, in its transaction (migration 14): a client
    # keeps the labels of the highest version it saw, whatever order events arrive in.
    labels_version = pw.IntegerField(default=0)

    class Meta:
        indexes = (
            (("tenant_id", "status"), False),
            (("tenant_id", "created_at"), False),  # reports: a tenant's conversations by date
        )


class Message(TenantModel):
    # Clustered on (conversation_id, seq): a conversation's messages sit together on disk,
    # replay is one range read, and inserts append. The public id is a unique secondary key.
    tenant_id = pw.CharField(max_length=64)  # every query leads with conversation_id
    conversation_id = pw.CharField(max_length=26)
    seq = pw.BigIntegerField()
    id = pw.CharField(max_length=26, unique=True)
    kind = pw.CharField(max_length=16, default=MessageKind.TEXT.value)
    sender_type = pw.CharField(max_length=16)
    sender_id = pw.CharField(max_length=26)
    sender_name = pw.CharField(max_length=200, default="")
    cid = pw.CharField(max_length=64)
    body = SealedTextField()  # the group-commit writer seals it through this field too
    created_ms = pw.BigIntegerField()

    class Meta:
        primary_key = pw.CompositeKey("conversation_id", "seq")
        indexes = (
            # cid second: the writer's duplicate check looks up (conversation_id, cid) pairs.
            (("conversation_id", "cid", "sender_type", "sender_id"), True),
        )


class CannedReply(TenantModel):
    id = pw.CharField(max_length=26, primary_key=True)
    agent_id = pw.CharField(max_length=26, null=True)  # NULL: tenant-wide
    # "" for tenant-wide, else agent_id: a unique index cannot see NULLs as equal.
    scope_key = pw.CharField(max_length=26, default="")
    shortcut = pw.CharField(max_length=64)
    body = pw.TextField()
    created_at = DateTimeMsField(default=utcnow)
    updated_at = DateTimeMsField(null=True)

    class Meta:
        indexes = ((("tenant_id", "scope_key", "shortcut"), True),)


class VisitorPage(TenantModel):
    """The visitor's page trail; only the newest few per visitor are kept."""

    id = pw.BigAutoField()
    visitor_id = pw.CharField(max_length=26)
    url = pw.CharField(max_length=1000)
    title = pw.CharField(max_length=300, default="")
    referrer = pw.CharField(max_length=1000, default="")
    at = DateTimeMsField(default=utcnow)

    class Meta:
        indexes = ((("tenant_id", "visitor_id", "id"), False),)


class ConversationLabel(TenantModel):
    id = pw.BigAutoField()
    conversation_id = pw.CharField(max_length=26)
    label = pw.CharField(max_length=50)
    created_by = pw.CharField(max_length=26, default="")
    created_at = DateTimeMsField(default=utcnow)

    class Meta:
        indexes = (
            (("conversation_id", "label"), True),
            (("tenant_id", "label"), False),
        )


class ApiKey(TenantModel):
    id = pw.CharField(max_length=40, primary_key=True)  # the public key id
    name = pw.CharField(max_length=200, default="")
    # HMAC verification needs the shared secret itself, so it cannot be hashed; it is
    # sealed at rest when encryption is on (docs/security.md).
    secret = SealedCharField(max_length=255)
    role = pw.CharField(max_length=16, default=Role.ADMIN.value)
    created_at = DateTimeMsField(default=utcnow)
    revoked_at = DateTimeMsField(null=True)


class Setting(TenantModel):
    key = pw.CharField(max_length=100)
    value = pw.TextField()  # JSON

    class Meta:
        indexes = ((("tenant_id", "key"), True),)


class AuditLog(TenantModel):
    id = pw.BigAutoField()
    actor = pw.CharField(max_length=100)
    # Who ``actor`` was by name when acting ("Ann via Support Slack", "command line").
    actor_name = pw.CharField(max_length=200, default="")
    action = pw.CharField(max_length=100)
    target = pw.CharField(max_length=200, default="")
    summary = pw.TextField(default="")
    ip = pw.CharField(max_length=45, default="")
    user_agent = pw.CharField(max_length=500, default="")  # the client's, as the login log
    created_at = DateTimeMsField(default=utcnow, index=True)


class LoginLog(TenantModel):
    id = pw.BigAutoField()
    username = pw.CharField(max_length=254)
    ip = pw.CharField(max_length=45)
    user_agent = pw.CharField(max_length=500, default="")
    success = pw.BooleanField()
    source = pw.CharField(max_length=32, default="password")
    created_at = DateTimeMsField(default=utcnow)

    class Meta:
        indexes = (
            (("tenant_id", "username", "created_at"), False),
            (("ip", "created_at"), False),
        )


class Bridge(TenantModel):
    """A bridge principal (docs/bridges.md): a process that mirrors the tenant's
    conversations into Slack or Telegram and acts only as agents linked to it."""

    id = pw.CharField(max_length=26, primary_key=True)
    kind = pw.CharField(max_length=16)
    name = pw.CharField(max_length=200)
    token_hash = pw.CharField(max_length=64, unique=True)  # sha256 hex: the token is shown once
    departments = pw.TextField(default="[]")  # JSON ids; [] = the whole tenant
    created_at = DateTimeMsField(default=utcnow)
    revoked_at = DateTimeMsField(null=True)
    # Failed link-code claims in the current window: guessing is limited per bridge.
    failed_claims = pw.IntegerField(default=0)
    failed_since_ms = pw.BigIntegerField(default=0)


class BridgeLink(TenantModel):
    """A chat-app user (``external_user``) who acts as ``agent_id`` through one bridge."""

    id = pw.BigAutoField()
    bridge_id = pw.CharField(max_length=26)
    external_user = pw.CharField(max_length=191)
    agent_id = pw.CharField(max_length=26)
    created_at = DateTimeMsField(default=utcnow)

    class Meta:
        indexes = (
            (("bridge_id", "external_user"), True),
            (("bridge_id", "agent_id"), False),
        )


class LinkCode(TenantModel):
    """A one-time code an agent gives a bridge to link a chat-app user (stored hashed)."""

    code_hash = pw.CharField(max_length=64, primary_key=True)
    agent_id = pw.CharField(max_length=26, index=True)
    expires_ms = pw.BigIntegerField()
    used_at = DateTimeMsField(null=True)
    created_at = DateTimeMsField(default=utcnow)


class EncryptionKeyUse(BaseModel):
    """Every key id that ever sealed data: a node without one of them refuses to start."""

    kid = pw.CharField(max_length=32, primary_key=True)
    first_used_at = DateTimeMsField(default=utcnow)


class Operator(BaseModel):
    """A platform operator (SaaS mode): not tenant data, acts in a tenant it names."""

    id = pw.CharField(max_length=26, primary_key=True)
    email = pw.CharField(max_length=254, unique=True)
    name = pw.CharField(max_length=200, default="")
    password_hash = pw.CharField(max_length=255)
    disabled = pw.BooleanField(default=False)
    token_version = pw.IntegerField(default=1)
    created_at = DateTimeMsField(default=utcnow)


class TenantTokenKey(TenantModel):
    """A visitor-token key a tenant brought from another install (``steadydesk import``):
    tokens that install issued (naming this ``kid``) keep verifying here. A tenant's own
    key is derived from the install's secret and never stored (server/security/tokens.py)."""

    id = pw.CharField(max_length=40, primary_key=True)  # the kid tokens name
    key = SealedCharField(max_length=300)  # base64 of 32 bytes, sealed when encryption is on
    created_at = DateTimeMsField(default=utcnow)


class BackupRun(BaseModel):
    """One backup attempt (CLI or scheduler): the source of the backup metrics on every node.

    A scheduled run names the fire time it serves; the unique index lets exactly one node
    of a cluster run each one, even if two briefly believed they held the lease."""

    id = pw.BigAutoField()
    scheduled_for_ms = pw.BigIntegerField(null=True, unique=True)
    tenant = pw.CharField(max_length=64, null=True)
    node = pw.CharField(max_length=200, default="")
    started_ms = pw.BigIntegerField(index=True)
    finished_ms = pw.BigIntegerField(null=True)
    ok = pw.BooleanField(null=True)  # NULL while running
    size = pw.BigIntegerField(null=True)
    archive = pw.CharField(max_length=1000, default="")
    error = pw.CharField(max_length=1000, default="")


class SchedulerLease(BaseModel):
    """Which node runs the cluster's scheduled jobs; taken over once ``expires_ms`` passes."""

    name = pw.CharField(max_length=64, primary_key=True)
    holder = pw.CharField(max_length=200)
    expires_ms = pw.BigIntegerField()
    created_ms = pw.BigIntegerField()  # first taken: scheduled runs before it are not owed


class ExportJob(TenantModel):
    """An export an admin asked for over REST; its file is produced as it is downloaded."""

    id = pw.CharField(max_length=26, primary_key=True)
    requested_by = pw.CharField(max_length=100)
    format = pw.CharField(max_length=8)
    decrypt = pw.BooleanField(default=False)
    with_credentials = pw.BooleanField(default=False)
    status = pw.CharField(max_length=16, default="ready")
    created_at = DateTimeMsField(default=utcnow)
    expires_at = DateTimeMsField()
    started_at = DateTimeMsField(null=True)
    finished_at = DateTimeMsField(null=True)
    size = pw.BigIntegerField(null=True)
    error = pw.CharField(max_length=500, default="")


class Attachment(TenantModel):
    """A file a visitor or agent uploaded (docs/protocol.md "Attachments (v1.1)").

    Unbound (``message_id`` NULL) until the first committed message naming it claims it,
    in the message's own transaction; unbound rows older than a day are collected."""

    id = pw.CharField(max_length=26, primary_key=True)
    conversation_id = pw.CharField(max_length=26, null=True)  # NULL: a visitor's first upload
    uploader_type = pw.CharField(max_length=16)
    uploader_id = pw.CharField(max_length=26)
    message_id = pw.CharField(max_length=26, null=True)
    message_seq = pw.BigIntegerField(null=True)
    name = pw.CharField(max_length=255)
    mime = pw.CharField(max_length=100)
    size = pw.BigIntegerField()
    sha256 = pw.CharField(max_length=64)
    storage = pw.CharField(max_length=8)  # "db" (attachment_chunk) or "dir"
    created_ms = pw.BigIntegerField(index=True)

    class Meta:
        indexes = ((("conversation_id", "message_seq"), False),)


class AttachmentChunk(TenantModel):
    """An attachment's bytes in the database, in pieces a MySQL packet always carries."""

    attachment_id = pw.CharField(max_length=26)
    n = pw.IntegerField()
    data = SealedBlobField()  # LONGBLOB; sealed at rest with STEADY_ENCRYPTION_KEYS

    class Meta:
        primary_key = pw.CompositeKey("attachment_id", "n")


class AiHandoff(TenantModel):
    """A conversation leaving the AI robot for people, and why (reports)."""

    id = pw.BigAutoField()
    conversation_id = pw.CharField(max_length=26)
    bridge_id = pw.CharField(max_length=26)
    reason = pw.CharField(max_length=32)
    created_at = DateTimeMsField(default=utcnow)

    class Meta:
        indexes = ((("tenant_id", "created_at"), False),)


class KnowledgeArticle(TenantModel):
    """An article of the tenant's knowledge base: what the AI robot answers from."""

    id = pw.CharField(max_length=26, primary_key=True)
    title = pw.CharField(max_length=300)
    body = pw.TextField()
    language = pw.CharField(max_length=35, default="en")
    tags = pw.TextField(default="[]")  # JSON list of strings
    created_at = DateTimeMsField(default=utcnow)
    updated_at = DateTimeMsField(default=utcnow)


ALL_MODELS: list[type[BaseModel]] = [
    SchemaMigration,
    Tenant,
    Site,
    Department,
    Agent,
    AgentDepartment,
    Visitor,
    Conversation,
    Message,
    CannedReply,
    ApiKey,
    Setting,
    AuditLog,
    LoginLog,
    VisitorPage,
    ConversationLabel,
    EncryptionKeyUse,
    Operator,
    Bridge,
    BridgeLink,
    LinkCode,
    TenantTokenKey,
    BackupRun,
    SchedulerLease,
    ExportJob,
    Attachment,
    AttachmentChunk,
    AiHandoff,
    KnowledgeArticle,
]

declare_database_defaults(ALL_MODELS)
