"""``steadydesk`` command line (PROTOCOL §5). Failures print one line and exit non-zero."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from server import __version__
from server.cli_backups import COMMANDS as BACKUP_COMMANDS
from server.cli_backups import add_parsers as add_backup_parsers
from server.config import ConfigError, Settings, ensure_secret_key, load_settings
from server.errors import StartupError, SteadyError

log = logging.getLogger("steadydesk")

EXIT_CONFIG = 2
EXIT_STARTUP = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="steadydesk", description="Steadydesk customer-service chat"
    )
    parser.add_argument("--version", action="version", version=f"steadydesk {__version__}")
    parser.add_argument("--config", help="JSON config file (STEADY_* variables win over it)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run a node (migrates the schema first)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--config", dest="sub_config")

    migrate = sub.add_parser("migrate", help="bring the schema up to date")
    migrate.add_argument("--config", dest="sub_config")

    demo = sub.add_parser("demo", help="create (or find) a demo tenant and print its credentials")
    demo.add_argument("--json", action="store_true", help="print one JSON object")
    demo.add_argument("--tenant", help="tenant id (default: STEADY_TENANT)")
    demo.add_argument("--config", dest="sub_config")

    tenant = sub.add_parser("tenant", help="manage tenants").add_subparsers(
        dest="action", required=True
    )
    t_create = tenant.add_parser("create")
    t_create.add_argument("tenant")
    t_create.add_argument("--name")
    t_show = tenant.add_parser("show", help="the tenant, its site keys and admins (JSON)")
    t_show.add_argument("tenant")

    site = sub.add_parser("site", help="manage sites").add_subparsers(dest="action", required=True)
    s_create = site.add_parser("create")
    s_create.add_argument("--tenant", required=True)
    s_create.add_argument("--name", required=True)
    s_create.add_argument(
        "--origin", action="append", default=[], help="allowed origin (repeatable)"
    )

    agent = sub.add_parser("agent", help="manage agents").add_subparsers(
        dest="action", required=True
    )
    a_create = agent.add_parser(
        "create", help="one agent (--email and a password), or many (--bulk FILE)"
    )
    a_create.add_argument("--tenant", required=True)
    a_create.add_argument("--email")
    _password_arguments(a_create, required=False)
    a_create.add_argument("--name", default="")
    a_create.add_argument("--role", choices=["agent", "admin"], default="agent")
    a_create.add_argument(
        "--capacity", type=int, default=5, help="(with --bulk: for rows that give none)"
    )
    a_create.add_argument(
        "--bulk",
        metavar="FILE",
        help="CSV with a header or JSON lines ('-': standard input): email (or login), name, "
        "role, departments (ids or names; ';' in CSV), password (empty: generated and "
        "printed), capacity. All or nothing; prints one JSON line per agent",
    )
    a_create.add_argument(
        "--no-password",
        action="store_true",
        help="(with --bulk) the agents get no password: they cannot log in with one until "
        "an admin sets it (scripted tenants, benchmarks; see --issue-tokens)",
    )
    a_create.add_argument(
        "--issue-tokens",
        action="store_true",
        help="(with --bulk) print an agent token for each agent, as a login would give "
        "(valid for STEADY_AGENT_TOKEN_TTL_SECS)",
    )

    reencrypt = sub.add_parser(
        "reencrypt", help="re-seal stored data with the current encryption key"
    )
    reencrypt.add_argument("--batch", type=int, default=500, help="rows per transaction")
    operator = sub.add_parser("operator", help="platform operators (SaaS mode)").add_subparsers(
        dest="action", required=True
    )
    o_create = operator.add_parser("create")
    o_create.add_argument("--email", required=True)
    _password_arguments(o_create)
    o_create.add_argument("--name", default="")
    o_list = operator.add_parser("list", help="every operator, disabled ones included")
    o_list.add_argument("--json", action="store_true", help="print a JSON list")
    for action, helptext in (
        ("disable", "the operator can no longer log in; its sessions end"),
        ("enable", "the operator can log in again (old sessions stay ended)"),
    ):
        o_toggle = operator.add_parser(action, help=helptext)
        o_toggle.add_argument("operator", metavar="EMAIL_OR_ID")
    o_reset = operator.add_parser("reset-password", help="set a new password; sessions end")
    o_reset.add_argument("operator", metavar="EMAIL_OR_ID")
    _password_arguments(o_reset)

    apikey = sub.add_parser("apikey", help="manage API keys").add_subparsers(
        dest="action", required=True
    )
    k_create = apikey.add_parser("create")
    k_create.add_argument("--tenant", required=True)
    k_create.add_argument("--name", default="")
    _bridge_parser(sub)
    _knowledge_parser(sub)
    add_backup_parsers(sub)
    return parser


def _bridge_parser(sub: Any) -> None:
    from server.kernel.enums import BridgeKind

    bridge = sub.add_parser("bridge", help="Slack, Telegram and AI bridges (docs/bridges.md)")
    actions = bridge.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a bridge; prints its token once")
    create.add_argument("--tenant", required=True)
    create.add_argument("--kind", required=True, choices=[k.value for k in BridgeKind])
    create.add_argument("--name", required=True)
    create.add_argument(
        "--department", action="append", default=[], help="narrow to a department (repeatable)"
    )
    create.add_argument("--json", action="store_true", help='print {"bridge_id", "token"}')
    listing = actions.add_parser("list", help="the tenant's bridges, revoked ones included")
    listing.add_argument("--tenant", required=True)
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    revoke = actions.add_parser("revoke", help="revoke a bridge (its sockets close within 1 s)")
    revoke.add_argument("bridge_id")
    revoke.add_argument("--tenant", help="the bridge's tenant (checked when given)")
    revoke.add_argument("--json", action="store_true", help="print the revoked bridge as JSON")
    code = actions.add_parser("link-code", help="a one-time code linking a chat user to an agent")
    code.add_argument("--tenant", required=True)
    code.add_argument("--agent", required=True, metavar="EMAIL")
    code.add_argument("--json", action="store_true", help='print {"code", "expires_at"}')


def _knowledge_parser(sub: Any) -> None:
    knowledge = sub.add_parser(
        "knowledge", help="the AI robot's knowledge base (docs/admin-api.md)"
    )
    actions = knowledge.add_subparsers(dest="action", required=True)
    imported = actions.add_parser("import", help="import Markdown files as articles")
    imported.add_argument("--tenant", required=True)
    imported.add_argument("files", nargs="+", metavar="FILE.md")
    imported.add_argument("--json", action="store_true", help="print the articles as JSON")


def _password_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    given = parser.add_mutually_exclusive_group(required=required)
    given.add_argument("--password")
    given.add_argument(
        "--password-file",
        help="read the password from the first line of FILE ('-': standard input), "
        "keeping it out of the process list",
    )


def _password(args: argparse.Namespace) -> str:
    if args.password is not None:
        return str(args.password)
    try:
        if args.password_file == "-":
            line = sys.stdin.readline()
        else:
            with open(args.password_file, encoding="utf-8") as fh:
                line = fh.readline()
    except OSError as err:
        raise ConfigError(f"cannot read --password-file: {err.strerror}") from None
    return line.rstrip("\r\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = load_settings(getattr(args, "sub_config", None) or args.config)
        # Flags given on the command line win over the environment and the file.
        overrides: dict[str, Any] = {}
        if getattr(args, "host", None):
            overrides["host"] = args.host
        if getattr(args, "port", None):
            overrides["port"] = args.port
        if overrides:
            settings = load_settings(
                getattr(args, "sub_config", None) or args.config, **overrides, _override_env=True
            )
        command: Callable[[Settings, argparse.Namespace], int] = _COMMANDS[args.command]
        return command(settings, args)
    except ConfigError as err:
        print(f"steadydesk: {err}", file=sys.stderr)
        return EXIT_CONFIG
    except StartupError as err:
        print(f"steadydesk: cannot start: {err}", file=sys.stderr)
        return EXIT_STARTUP
    except SteadyError as err:
        print(f"steadydesk: {err.message}", file=sys.stderr)
        return 1


def _prepared(settings: Settings) -> None:
    """Connect, check and migrate: everything a command needs before touching data."""
    from server.observability.health import check_data_dir, startup_check
    from server.storage import open_store

    check_data_dir(settings)
    store = open_store(settings)
    try:
        startup_check(settings, store.database, migrate=True)
    finally:
        store.close()


def _cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from server.admin.demo import admit_serving_origins
    from server.app import create_app
    from server.observability.health import check_tls

    check_tls(settings)  # Sanic would only fail with a traceback once it serves
    here = _own_url(settings)
    added = _with_db(settings, lambda: admit_serving_origins(settings.tenant, here))
    if added:
        log.info("demo site: also allowed from %s (the demo page's address)", ", ".join(added))
    app = create_app(settings)
    log.info("steadydesk %s on %s (node %s)", __version__, here, settings.node_name)
    ssl = {"cert": settings.tls_cert, "key": settings.tls_key} if settings.tls_enabled else None
    app.run(
        host=settings.host,
        port=settings.port,
        single_process=True,
        access_log=False,
        motd=False,
        ssl=ssl,
    )
    return 0


def _cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    _prepared(settings)
    print("schema is up to date")
    return 0


def _own_url(settings: Settings) -> str:
    """Where this node serves (the demo page's origin)."""
    return f"{'https' if settings.tls_enabled else 'http'}://{settings.host}:{settings.port}"


def _with_db(settings: Settings, fn: Callable[[], Any]) -> Any:
    from server.storage import open_store

    _prepared(settings)
    store = open_store(settings)
    try:
        with store.database.connection_context():
            return fn()
    finally:
        store.close()


def _cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from server.admin.demo import ensure_demo

    tenant = args.tenant or settings.tenant
    public_url = _own_url(settings)
    # The key is read (or made) after the data dir has been made private (_with_db).
    result = _with_db(
        settings, lambda: ensure_demo(tenant, public_url, ensure_secret_key(settings))
    )
    if args.json:
        print(json.dumps(result))
    else:
        print(f"Open {result['origin']}/ (demo page)\nTenant: {result['tenant']}")
        print(f"Admin:  {result['admin']['email']} / {result['admin']['password']}")
        for agent in result["agents"]:
            print(f"Agent:  {agent['email']} / {agent['password']}")
    return 0


def _cmd_tenant(settings: Settings, args: argparse.Namespace) -> int:
    from server.admin.provisioning import create_tenant, tenant_summary

    if args.action == "show":
        print(json.dumps(_with_db(settings, lambda: tenant_summary(args.tenant))))
        return 0
    tenant = _with_db(settings, lambda: create_tenant(args.tenant, args.name))
    print(json.dumps({"tenant": tenant.id, "name": tenant.name}))
    return 0


def _cmd_site(settings: Settings, args: argparse.Namespace) -> int:
    from server.admin.provisioning import create_site, site_summary

    site = _with_db(settings, lambda: create_site(args.tenant, args.name, args.origin))
    print(json.dumps(site_summary(site)))
    return 0


def _cmd_agent(settings: Settings, args: argparse.Namespace) -> int:
    from server.admin.provisioning import create_agent
    from server.kernel.enums import Role

    if args.bulk is not None:
        return _cmd_agent_bulk(settings, args)
    if args.no_password or args.issue_tokens:
        raise ConfigError("--no-password and --issue-tokens go with --bulk")
    if args.email is None or (args.password is None and args.password_file is None):
        raise ConfigError("agent create needs --email and --password or --password-file, or --bulk")
    password = _password(args)
    agent = _with_db(
        settings,
        lambda: create_agent(
            args.tenant,
            args.email,
            password,
            name=args.name,
            role=Role(args.role),
            capacity=args.capacity,
        ),
    )
    print(json.dumps({"id": agent.id, "email": agent.email, "role": agent.role}))
    return 0


def _cmd_agent_bulk(settings: Settings, args: argparse.Namespace) -> int:
    from server.admin.bulk_agents import (
        create_agents_bulk,
        file_format,
        issue_tokens,
        parse_rows,
    )
    from server.security.tokens import TokenSigner

    if args.email is not None or args.password is not None or args.password_file is not None:
        raise ConfigError("--bulk takes the agents from the file: no --email or --password")
    try:
        if args.bulk == "-":
            text = sys.stdin.read()
        else:
            with open(args.bulk, encoding="utf-8-sig") as fh:
                text = fh.read()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read --bulk {args.bulk}: {err}") from None
    rows = parse_rows(text, file_format(args.bulk, text), args.capacity)
    created = _with_db(
        settings,
        lambda: create_agents_bulk(args.tenant, rows, no_passwords=args.no_password),
    )
    if args.issue_tokens:  # agent tokens are signed with the node's own key
        signer = TokenSigner(ensure_secret_key(settings))
        issue_tokens(created, args.tenant, signer, settings.agent_token_ttl_secs)
    sys.stdout.write("".join(json.dumps(c.view()) + "\n" for c in created))
    return 0


def _cmd_apikey(settings: Settings, args: argparse.Namespace) -> int:
    from server.admin.provisioning import create_api_key

    key = _with_db(settings, lambda: create_api_key(args.tenant, args.name))
    print(json.dumps({"api_key": key.key, "api_secret": key.secret}))
    return 0


def _cmd_reencrypt(settings: Settings, args: argparse.Namespace) -> int:
    from server.storage.database import db
    from server.storage.rekey import reseal_all

    report = _with_db(settings, lambda: reseal_all(db.obj, max(1, args.batch)))
    print(json.dumps({"resealed": report.resealed, "retired_keys": report.retired_keys}))
    return 0


def _cmd_operator(settings: Settings, args: argparse.Namespace) -> int:
    from server.admin import operator_accounts as accounts
    from server.admin.operators import create_operator
    from server.config import DeploymentMode

    if settings.mode is not DeploymentMode.SAAS:
        raise ConfigError("operators exist only in SaaS mode (STEADY_MODE=SaaS)")
    cli = accounts.platform_cli_actor()
    if args.action == "create":
        password = _password(args)
        operator = _with_db(settings, lambda: create_operator(args.email, password, args.name))
        print(json.dumps({"id": operator.id, "email": operator.email}))
    elif args.action == "list":
        found = _with_db(settings, accounts.list_operators)
        if args.json:
            print(json.dumps(found))
        for op in [] if args.json else found:
            state = "disabled" if op["disabled"] else "active"
            print(f"{op['id']}  {op['email']}  {op['name']}  {state}")
    elif args.action in ("disable", "enable"):
        disabled = args.action == "disable"
        done = _with_db(settings, lambda: accounts.set_disabled(cli, args.operator, disabled))
        print(json.dumps(done))
    else:
        password = _password(args)
        fields = {"password": password}
        done = _with_db(settings, lambda: accounts.reset_password(cli, args.operator, fields))
        print(json.dumps(done))
    return 0


def _cmd_knowledge(settings: Settings, args: argparse.Namespace) -> int:
    from server.admin import knowledge
    from server.admin.bridges import cli_actor
    from server.admin.provisioning import get_tenant

    files = []
    for path in args.files:
        try:
            with open(path, "rb") as fh:
                files.append((os.path.basename(path), fh.read()))
        except OSError as err:
            raise ConfigError(f"cannot read {path}: {err.strerror}") from None

    def run() -> dict[str, Any]:
        get_tenant(args.tenant)
        return knowledge.do_import(cli_actor(args.tenant), files, "")

    made = _with_db(settings, run)
    if args.json:
        print(json.dumps(made["articles"]))
    for article in [] if args.json else made["articles"]:
        print(f"{article['id']}  {article['language']:<8}  {article['title']}")
    return 0


def _cmd_bridge(settings: Settings, args: argparse.Namespace) -> int:
    from server.admin import bridge_cli

    if args.action == "create":
        created = _with_db(
            settings,
            lambda: bridge_cli.create(args.tenant, args.kind, args.name, args.department),
        )
        if args.json:
            print(json.dumps({"bridge_id": created["bridge_id"], "token": created["token"]}))
        else:
            print(f"bridge {created['bridge_id']} ({created['kind']}) created")
            print(f"token (shown this once, keep it secret): {created['token']}")
    elif args.action == "list":
        bridges = _with_db(settings, lambda: bridge_cli.listing(args.tenant))
        if args.json:
            print(json.dumps(bridges))
        for bridge in [] if args.json else bridges:
            scope = ",".join(bridge["departments"]) or "whole tenant"
            state = f"revoked {bridge['revoked_at']}" if bridge["revoked_at"] else "active"
            print(f"{bridge['id']}  {bridge['kind']:<8}  {bridge['name']}  [{scope}]  {state}")
    elif args.action == "revoke":
        revoked = _with_db(settings, lambda: bridge_cli.revoke(args.bridge_id, args.tenant))
        print(json.dumps(revoked) if args.json else f"bridge {revoked['id']} revoked")
    else:
        ttl = settings.link_code_ttl_secs
        code = _with_db(settings, lambda: bridge_cli.link_code(args.tenant, args.agent, ttl))
        print(json.dumps(code) if args.json else code["code"])
    return 0


_COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "serve": _cmd_serve,
    "knowledge": _cmd_knowledge,
    "migrate": _cmd_migrate,
    "demo": _cmd_demo,
    "tenant": _cmd_tenant,
    "site": _cmd_site,
    "agent": _cmd_agent,
    "apikey": _cmd_apikey,
    "reencrypt": _cmd_reencrypt,
    "operator": _cmd_operator,
    "bridge": _cmd_bridge,
    **BACKUP_COMMANDS,
}
