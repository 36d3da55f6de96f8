"""Import boundaries (docs/architecture.md): domain code knows nothing of transport.

Two independent checks, so a boundary holds even if one of them is misconfigured:
import-linter's contracts in setup.cfg, run as `lint-imports`, and a plain AST
scan of the source tree. Neither ever skips: a missing tool or an empty tree fails.
"""

from __future__ import annotations

import ast
import configparser
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SERVER = REPO / "server"

DOMAIN_PACKAGES = (
    "chat", "routing", "admin", "foundation", "kernel", "storage", "security", "bus",
)
TRANSPORT_MODULES = ("server.gateway", "sanic", "sanic_routing", "sanic_ext", "websockets")
CLIENT_AND_UI_MODULES = ("textual", "tui_agent", "bots")
CLIENT_PACKAGES = ("tui_agent", "bots")
LINT_IMPORTS_TIMEOUT_SECS = 300
# The layers of server/, top to bottom (setup.cfg's layers contract, checked here too).
ADAPTERS = ("server.cli", "server.cli_backups", "server.app", "server.gateway")
# Top to bottom: admin may import routing and chat, routing may import chat, never upwards.
DOMAIN = ("server.admin", "server.routing", "server.chat")
FOUNDATIONS = ("foundation", "bus", "storage", "security", "kernel")
# The kernel (Actor, ConversationRef, topics, the domain's enums) is pure Python: of
# server it imports only itself, and no database, web or I/O library.
KERNEL_MAY_NOT_IMPORT = (
    "server", "peewee", "pydantic", "redis", "sanic", "websockets", "asyncio", "socket",
)
# Sans-I/O modules: loading one must not load the database layer, even indirectly.
SANS_IO_MODULES = (
    "server.routing.policy",
    "server.routing.hours",
    "server.chat.delivery",
    "server.chat.bridge_feed",
    "server.kernel.actors",
    "server.kernel.enums",
    "server.kernel.topics",
)
IO_PACKAGES = ("peewee", "pymysql", "redis", "sanic", "websockets", "server.storage", "server.bus")
# tui_agent's modules that are not UI: plain state, records, the network client.
CONSOLE_CORE = (
    "client", "desk", "models", "events", "streams", "notices", "canned", "config",
    "formatting", "untrusted", "monitor",
)
# Benchmarks that time one server component in-process import it (the bus, the sanitiser,
# the schema migrations, the search index's write cost); the others are protocol clients.
COMPONENT_BENCHMARKS = (
    "bus.py",
    "sanitizer.py",
    "migrations.py",
    "search_index.py",
    "knowledge_feed.py",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    yield from _imports_in(path.read_text(encoding="utf-8"), package)


def _imports_in(source: str, package: str) -> Iterator[tuple[int, str]]:
    """Yield (line, dotted name) for every module or name that `source` imports.

    `package` is the package the code lives in, for resolving relative imports.
    """
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parents = package.split(".")
                base = ".".join(parents[: len(parents) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            yield node.lineno, target
            # `from server import gateway` imports server.gateway.
            for alias in node.names:
                yield node.lineno, f"{target}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Name) and node.func.id == "__import__")
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def _is_within(name: str, modules: tuple[str, ...]) -> bool:
    return any(name == m or name.startswith(m + ".") for m in modules)


def _violations(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{path.relative_to(REPO)}:{line} imports {name}"
        for path in files
        for line, name in _imports(path)
        if _is_within(name, forbidden)
    )


def _python_files(*roots: Path) -> list[Path]:
    return sorted(p for root in roots if root.is_dir() for p in root.rglob("*.py"))


def test_import_linter_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    assert lint_imports.exists(), f"{lint_imports} not found: run ./scripts/bootstrap.sh"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=LINT_IMPORTS_TIMEOUT_SECS,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_domain_packages_never_import_transport() -> None:
    files = _python_files(*(SERVER / name for name in DOMAIN_PACKAGES))
    assert files, "no modules found in server/{" + ",".join(DOMAIN_PACKAGES) + "}"
    violations = _violations(files, TRANSPORT_MODULES)
    assert not violations, "domain code imports transport:\n" + "\n".join(violations)


def test_server_never_imports_the_console_the_bridges_or_textual() -> None:
    files = _python_files(SERVER)
    assert files, "no modules found in server/"
    violations = _violations(files, CLIENT_AND_UI_MODULES)
    assert not violations, "server imports client or UI code:\n" + "\n".join(violations)


def test_clients_never_import_server() -> None:
    # tui_agent/ and bots/ talk to the server over the protocol only.
    files = _python_files(*(REPO / name for name in CLIENT_PACKAGES))
    assert files, "no modules found in tui_agent/ or bots/"
    violations = _violations(files, ("server",))
    assert not violations, "a protocol client imports server:\n" + "\n".join(violations)


def test_the_scan_sees_relative_from_and_dynamic_imports() -> None:
    # The checks above are only as good as _imports_in; prove it on known source.
    source = (
        "from ..gateway import routes\n"
        "from .. import gateway\n"
        "import sanic.response\n"
        "from websockets.frames import CloseCode\n"
        "import importlib\n"
        "importlib.import_module('sanic_ext')\n"
    )
    found = {name for _, name in _imports_in(source, "server.chat")}
    assert {
        "server.gateway.routes",
        "server.gateway",
        "sanic.response",
        "websockets.frames",
        "sanic_ext",
    } <= found
    assert not _is_within("server.gateway_helpers", TRANSPORT_MODULES)


def test_platform_doubles_stand_alone() -> None:
    # tests/fakes holds the local Slack (and Telegram) that the bridge suites and the
    # benchmarks share: it imports nothing else of tests/, and nothing of what it stands
    # in front of (a double that used the bridge's own code would agree with it by
    # construction).
    files = _python_files(REPO / "tests" / "fakes")
    assert files, "no modules found in tests/fakes/"
    found = _violations(files, ("tests", "server", "bots", "steadywire"))
    violations = [v for v in found if not v.split(" imports ")[1].startswith("tests.fakes")]
    assert not violations, "a platform double imports test or product code:\n" + "\n".join(
        violations
    )


def test_foundations_never_import_the_domain_or_the_adapters() -> None:
    files = _python_files(*(SERVER / name for name in FOUNDATIONS))
    assert files, "no modules found in server/{" + ",".join(FOUNDATIONS) + "}"
    found = _violations(files, DOMAIN + ADAPTERS)
    # foundation sits above the other foundations: kernel, storage, bus and security
    # never import it.
    below = _python_files(*(SERVER / name for name in FOUNDATIONS if name != "foundation"))
    violations = found + _violations(below, ("server.foundation",))
    assert not violations, "a foundation imports upwards:\n" + "\n".join(violations)


def test_chat_routing_and_admin_import_each_other_one_way() -> None:
    # admin over routing over chat (setup.cfg's layers): a package never imports one above it.
    violations = []
    for depth, package in enumerate(DOMAIN):
        files = _python_files(REPO.joinpath(*package.split(".")))
        assert files, f"no modules found in {package}"
        violations += _violations(files, DOMAIN[:depth])
    assert not violations, "a domain package imports one above it:\n" + "\n".join(violations)


def test_the_kernel_imports_nothing_of_server_but_itself() -> None:
    files = _python_files(SERVER / "kernel")
    assert files, "no modules found in server/kernel"
    found = _violations(files, KERNEL_MAY_NOT_IMPORT)
    violations = [v for v in found if not _is_within(v.split(" imports ")[1], ("server.kernel",))]
    assert not violations, "the kernel imports more than itself:\n" + "\n".join(violations)


def test_sans_io_modules_load_without_the_database_even_indirectly() -> None:
    # A fresh interpreter imports each module; what it loaded is what it depends on,
    # however indirectly (the routing policy once pulled in peewee through the models).
    probe = (
        "import importlib, sys\n"
        "importlib.import_module(sys.argv[1])\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    violations = []
    for module in SANS_IO_MODULES:
        result = subprocess.run(
            [sys.executable, "-c", probe, module],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        loaded = result.stdout.split()
        assert module in loaded, result.stdout
        violations += [f"{module} loads {m}" for m in loaded if _is_within(m, IO_PACKAGES)]
    assert not violations, "a sans-I/O module loads I/O code:\n" + "\n".join(violations)


def test_the_domain_never_imports_the_adapters() -> None:
    files = _python_files(*(REPO.joinpath(*m.split(".")) for m in DOMAIN))
    assert files, "no modules found in the domain packages"
    violations = _violations(files, ADAPTERS)
    assert not violations, "domain code imports an adapter:\n" + "\n".join(violations)


def test_the_consoles_non_ui_modules_never_import_textual() -> None:
    files = [REPO / "tui_agent" / f"{name}.py" for name in CONSOLE_CORE]
    assert all(f.is_file() for f in files), [str(f) for f in files if not f.is_file()]
    ui = ("textual", "tui_agent.app", "tui_agent.screens", "tui_agent.widgets")
    violations = _violations(files, (*ui, "tui_agent.messages", "tui_agent.keys"))
    assert not violations, "console core imports UI code:\n" + "\n".join(violations)


def test_benchmarks_are_protocol_clients_but_the_component_ones() -> None:
    files = [p for p in _python_files(REPO / "bench") if p.name not in COMPONENT_BENCHMARKS]
    assert len(files) > 3, files
    violations = _violations(files, ("server", "backups"))
    assert not violations, "a protocol benchmark imports server:\n" + "\n".join(violations)


def test_the_contracts_live_in_setup_cfg_only() -> None:
    # import-linter reads setup.cfg first and stops there: contracts added to
    # pyproject.toml (say, by a merge) would be ignored without a word.
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "importlinter" not in pyproject.get("tool", {}), (
        "move [tool.importlinter] from pyproject.toml into setup.cfg (docs/architecture.md)"
    )
    config = configparser.ConfigParser()
    assert config.read(REPO / "setup.cfg", encoding="utf-8")
    contracts = {
        section: dict(config[section])
        for section in config.sections()
        if section.startswith("importlinter:contract:")
    }
    layers = [c for c in contracts.values() if c["type"] == "layers"]
    assert [c["containers"].split() for c in layers] == [["server"]], layers
    order = [line.strip() for line in layers[0]["layers"].splitlines() if line.strip()]
    domain = [name.removeprefix("server.") for name in DOMAIN]
    assert [line for line in order if line in domain] == domain, order
    assert order.index("chat") < order.index("foundation"), order
    assert not any(":" in line and "chat" in line for line in order), order
    forbidden_textual = [
        c for c in contracts.values() if "textual" in c.get("forbidden_modules", "").split()
    ]
    assert any("tui_agent.client" in c["source_modules"].split() for c in forbidden_textual)


# -- the gateway parses, authorises, calls one action and replies (issue #12 item 1) ----
GATEWAY = SERVER / "gateway"
# Calls that publish on the bus or run a query: only the domain's actions make them.
GATEWAY_FORBIDDEN_CALLS = ("publish", "select", "execute_sql", "get_or_none")
# Query machinery: the ORM, the tenant guard and the database handle.
GATEWAY_FORBIDDEN_IMPORTS = ("peewee", "server.storage.guard", "server.storage.database.db")


def _table_names() -> frozenset[str]:
    """The table classes in server/storage/models.py (its enums and helpers may be used)."""
    import peewee

    from server.storage import models

    return frozenset(
        name
        for name, value in vars(models).items()
        if isinstance(value, type) and issubclass(value, peewee.Model)
    )


def _gateway_violations(source: str, where: str, tables: frozenset[str]) -> list[str]:
    found = []
    for line, name in _imports_in(source, "server.gateway"):
        module, _, last = name.rpartition(".")
        if _is_within(name, GATEWAY_FORBIDDEN_IMPORTS) or (
            module == "server.storage.models" and last in tables
        ):
            found.append(f"{where}:{line} imports {name}")
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in GATEWAY_FORBIDDEN_CALLS
        ):
            found.append(f"{where}:{node.lineno} calls .{node.func.attr}()")
    return found


def test_the_gateway_neither_publishes_nor_queries() -> None:
    # Events come from the actions in chat, routing and admin, after their commit, so
    # every caller (WebSocket, REST, CLI, a bridge) gets the same effects; queries run in
    # the domain too (the gateway hands a domain function to store.run).
    files = _python_files(GATEWAY)
    assert len(files) > 10, files
    tables = _table_names()
    assert {"Conversation", "Site", "Message"} <= tables, tables
    violations = sorted(
        v
        for path in files
        for v in _gateway_violations(
            path.read_text(encoding="utf-8"), str(path.relative_to(REPO)), tables
        )
    )
    assert not violations, "the gateway publishes or queries:\n" + "\n".join(violations)


def test_the_gateway_scan_sees_publishing_and_queries() -> None:
    source = (
        "import peewee as pw\n"
        "from server.storage.guard import TenantScope\n"
        "from ..storage.models import Conversation, Role\n"
        "from server.storage.database import db\n"
        "self.s.bus.publish('conv:1', {})\n"
        "TenantScope(t).select(Conversation)\n"
        "db.execute_sql('select 1')\n"
    )
    found = _gateway_violations(source, "x.py", _table_names())
    assert found == [
        "x.py:1 imports peewee",
        "x.py:2 imports server.storage.guard",
        "x.py:2 imports server.storage.guard.TenantScope",
        "x.py:3 imports server.storage.models.Conversation",
        "x.py:4 imports server.storage.database.db",
        "x.py:5 calls .publish()",
        "x.py:6 calls .select()",
        "x.py:7 calls .execute_sql()",
    ], found


# A client's frame reaches the gateway's handlers (``on_<type>``, the bridges' ``dispatch``)
# typed, parsed once by steadywire in ws.py's read loop: they read it by attribute.
DICT_ANNOTATIONS = ("dict", "Dict", "Mapping", "MutableMapping", "Any")


def _frame_dict_reads(source: str, where: str) -> list[str]:
    """``frame.get(...)``, ``frame[...]``, ``... in frame``, and a handler's ``frame``
    parameter annotated as a dict: a client frame read as a dict, not its steadywire class.
    (Outgoing server frames are dicts or bytes; they are not named ``frame`` in a handler's
    signature, and are never read back.)"""
    found = []
    tree = ast.parse(source)
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if not (func.name.startswith("on_") or func.name in ("dispatch", "_robot")):
            continue
        for arg in func.args.args + func.args.kwonlyargs:
            if arg.arg == "frame" and arg.annotation is not None:
                text = ast.unparse(arg.annotation)
                if text.startswith(DICT_ANNOTATIONS):
                    found.append(f"{where}:{arg.lineno} {func.name}(frame: {text})")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("get", "pop", "items", "keys", "values")
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "frame"
        ):
            found.append(f"{where}:{node.lineno} frame.{node.func.attr}()")
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == "frame"
        ):
            found.append(f"{where}:{node.lineno} frame[...]")
        elif isinstance(node, ast.Compare) and any(
            isinstance(op, ast.In | ast.NotIn)
            and isinstance(right, ast.Name)
            and right.id == "frame"
            for op, right in zip(node.ops, node.comparators, strict=True)
        ):
            found.append(f"{where}:{node.lineno} ... in frame")
    return found


def test_gateway_handlers_read_typed_frames_not_dicts() -> None:
    """Issue #12 item 2: the gateway reads a client's frame once with steadywire
    (``read_client_frame``) and its handlers read the typed frame's attributes, so the
    server's idea of a frame cannot drift from the clients'."""
    files = _python_files(GATEWAY)
    assert len(files) > 10, files
    violations = sorted(
        v
        for path in files
        for v in _frame_dict_reads(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    )
    assert not violations, "the gateway reads a frame as a dict:\n" + "\n".join(violations)
    ws = (GATEWAY / "ws.py").read_text(encoding="utf-8")
    assert "read_client_frame(" in ws, "the read loop no longer parses with steadywire"


def test_the_frame_scan_sees_every_dict_read() -> None:
    source = (
        "async def on_send(self, conn, frame: dict[str, Any], actor):\n"
        "    cid = frame.get('cid')\n"
        "    body = frame['body']\n"
        "    if 'as' in frame: pass\n"
        "async def on_read(self, conn, frame: Mapping[str, Any], actor):\n"
        "    return frame.conv, frame.seq\n"
        "async def on_sync(self, conn, frame: Sync, actor):\n"
        "    return frame.conv, getattr(frame, 'cid', None)\n"
    )
    found = _frame_dict_reads(source, "x.py")
    assert sorted(found) == sorted([
        "x.py:1 on_send(frame: dict[str, Any])",
        "x.py:2 frame.get()",
        "x.py:3 frame[...]",
        "x.py:4 ... in frame",
        "x.py:5 on_read(frame: Mapping[str, Any])",
    ]), found
