"""Keeps untrusted text from reaching the screen as markup or raw escape codes again.

Rich and Textual parse markup in plain strings and write their characters to the
terminal as they are, so the console shows every string through
``tui_agent.untrusted`` (``safe_text``, ``clean``, ``tell``). This test reads the
console's source with ``ast`` and fails when:

* ``notify`` is called anywhere but in ``tell`` (which passes ``markup=False`` and
  cleans the message and title);
* a place that shows text -- ``update``, ``write``, ``Static``, ``Label``, ``Tab``,
  ``Option``, ``Button``, ``add_row``, ``Text``, ``append``/``append_text`` on a
  ``Text``, or an assignment to ``border_title``, ``border_subtitle``, ``label``,
  ``placeholder``, ``tooltip`` -- gets anything but a literal, a call of the helpers,
  or a value built only from those (a local whose every assignment is safe, a
  parameter or list annotated ``Text``, a function of the module that returns
  ``Text``).

f-strings, concatenation, attributes (``conv.title``) and anything else unproven are
refused: wrap them in ``safe_text(...)`` (or ``clean(...)`` where a ``str`` is needed).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import tui_agent

PACKAGE = Path(tui_agent.__file__).parent
HELPER_MODULE = PACKAGE / "untrusted.py"
HELPERS = frozenset({"safe_text", "clean", "one_line"})
RENDERABLE = frozenset({"Text", "Table", "Content"})  # annotations meaning "already safe"
SINK_CALLS = frozenset({"update", "write", "Static", "Label", "Tab", "Option", "Button",
                        "add_row", "Text"})
TEXT_METHODS = frozenset({"append", "append_text"})
SINK_ATTRIBUTES = frozenset({"border_title", "border_subtitle", "label", "placeholder",
                             "tooltip"})
SINK_KEYWORDS = frozenset({"placeholder", "tooltip"})


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _mentions_renderable(annotation: ast.expr | None) -> bool:
    """``Text``, ``Text | None``, ``list[tuple[float, Text]]``, ...: safe to show."""
    if annotation is None:
        return False
    return any(isinstance(n, ast.Name) and n.id in RENDERABLE for n in ast.walk(annotation))


def _is_container(annotation: ast.expr) -> bool:
    return isinstance(annotation, ast.Subscript)


class Function:
    """What one function's body says about its local names."""

    def __init__(self, node: ast.FunctionDef | ast.AsyncFunctionDef | None,
                 module: SinkChecker) -> None:
        self.module = module
        self.assigned: dict[str, list[ast.expr | None]] = {}  # None: unprovable
        self.annotated: set[str] = set()  # names of renderables (or of lists of them)
        self.containers: set[str] = set()  # of those, the lists
        if node is None:
            return
        for arg in [*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs]:
            if _mentions_renderable(arg.annotation):
                self.annotated.add(arg.arg)
            else:
                self.assigned.setdefault(arg.arg, []).append(None)
        for child in ast.walk(node):
            if isinstance(child, ast.Assign):
                for target in child.targets:
                    self._bind(target, child.value)
            elif isinstance(child, ast.AnnAssign) and isinstance(child.target, ast.Name):
                if _mentions_renderable(child.annotation):
                    self.annotated.add(child.target.id)
                    if _is_container(child.annotation):
                        self.containers.add(child.target.id)
                elif child.value is not None:
                    self._bind(child.target, child.value)
            elif isinstance(child, (ast.For, ast.AsyncFor, ast.comprehension)):
                over_text = isinstance(child.iter, ast.Name) and child.iter.id in self.annotated
                for name in ast.walk(child.target):
                    if isinstance(name, ast.Name):
                        if over_text:
                            self.annotated.add(name.id)
                        else:
                            self.assigned.setdefault(name.id, []).append(None)
            elif isinstance(child, ast.NamedExpr):
                self._bind(child.target, child.value)

    def _bind(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.assigned.setdefault(target.id, []).append(value)
        else:
            for name in ast.walk(target):
                if isinstance(name, ast.Name):
                    self.assigned.setdefault(name.id, []).append(None)

    def safe(self, node: ast.expr, seen: frozenset[str] = frozenset()) -> bool:
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.JoinedStr):
            return all(isinstance(v, ast.Constant) for v in node.values)
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Mult):  # "-" * width
                return any(isinstance(side, ast.Constant) for side in (node.left, node.right))
            return self.safe(node.left, seen) and self.safe(node.right, seen)
        if isinstance(node, ast.Starred):  # add_row(*cells): as safe as what is unpacked
            return self.safe(node.value, seen)
        if isinstance(node, ast.IfExp):
            return self.safe(node.body, seen) and self.safe(node.orelse, seen)
        if isinstance(node, ast.Starred):  # add_row(*cells): safe when cells is (of Text)
            return self.safe(node.value, seen)
        if isinstance(node, ast.Call):
            called = _name(node.func)
            if called in HELPERS or called in self.module.text_functions:
                return True
            if called in RENDERABLE or (isinstance(node.func, ast.Attribute)
                                        and _name(node.func.value) in RENDERABLE):
                return all(self.safe(arg, seen) for arg in node.args)
            return False
        if (
            isinstance(node, ast.Attribute)
            and _name(node.value) == "self"
            and node.attr in self.module.text_attributes
        ):
            return True
        if isinstance(node, ast.Name):
            if node.id in self.annotated:
                return True
            if node.id in seen:
                return True  # a loop of assignments: judged by the others
            values = self.assigned.get(node.id)
            if not values:
                return node.id.isupper()  # a module constant
            return all(v is not None and self.safe(v, seen | {node.id}) for v in values)
        return False


class SinkChecker(ast.NodeVisitor):
    def __init__(self, path: Path, tree: ast.Module) -> None:
        self.path = path
        self.problems: list[str] = []
        self.text_functions = {
            node.name
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and _mentions_renderable(node.returns)
        }
        self.text_attributes = {  # self.x: Text = ...
            node.target.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Attribute)
            and _mentions_renderable(node.annotation)
        }
        self.function = Function(None, self)

    def _problem(self, node: ast.AST, what: str) -> None:
        line = getattr(node, "lineno", 0)
        self.problems.append(f"{self.path.name}:{line}: {what}")

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        outer = self.function
        self.function = Function(node, self)
        self.generic_visit(node)
        self.function = outer

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node: ast.Call) -> None:
        called = _name(node.func)
        if called == "notify":
            self._problem(node, "notify() outside untrusted.tell")
        receiver = node.func.value if isinstance(node.func, ast.Attribute) else None
        text_method = (  # .append on a Text (not on a list)
            called in TEXT_METHODS
            and isinstance(receiver, ast.Name)
            and receiver.id not in self.function.containers
            and (receiver.id in self.function.annotated
                 or bool(self.function.assigned.get(receiver.id)))
            and self.function.safe(receiver)
        )
        if called in SINK_CALLS or text_method:
            shown = node.args[:1] if called != "add_row" else node.args
            for arg in shown:
                if not self.function.safe(arg):
                    self._problem(node, f"{called}() shows {ast.unparse(arg)!r} unescaped")
        for keyword in node.keywords:
            if keyword.arg in SINK_KEYWORDS and not self.function.safe(keyword.value):
                self._problem(node, f"{keyword.arg}= {ast.unparse(keyword.value)!r} unescaped")
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            if (isinstance(target, ast.Attribute) and target.attr in SINK_ATTRIBUTES
                    and not self.function.safe(node.value)):
                self._problem(node, f".{target.attr} = {ast.unparse(node.value)!r} unescaped")
        self.generic_visit(node)


def check_source(source: str, path: Path) -> list[str]:
    tree = ast.parse(source)
    checker = SinkChecker(path, tree)
    checker.visit(tree)
    return checker.problems


def console_modules() -> Iterator[Path]:
    """Every module of the console that can draw (imports Textual or Rich)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text()
        if path != HELPER_MODULE and ("from textual" in source or "from rich" in source):
            yield path


def test_every_shown_string_goes_through_the_helper() -> None:
    modules = list(console_modules())
    assert len(modules) > 15, "the console's source was not found"
    problems = [p for path in modules for p in check_source(path.read_text(), path)]
    assert not problems, "untrusted text shown without tui_agent.untrusted:\n" + "\n".join(
        problems
    )


def test_the_check_finds_what_it_is_for() -> None:
    bad = '''
def draw(self, conv, message):
    self.notify(f"New chat waiting: {conv.title}")
    self.query_one(Static).update(f"{conv.title} is typing")
    label = conv.title
    tab.label = label
    box.border_title = "Transfer " + conv.title
    yield Static(message.body)
    table.add_row("Name", conv.visitor.name)
    text = Text("x")
    text.append(message.body)
    Option(Text(message.body))
    Input(placeholder=conv.department)
    entries: list[Text] = []
    entries.append(conv.title)
    self.write(entries)
'''
    problems = check_source(bad, Path("bad.py"))
    assert len(problems) == 10, "\n".join(problems)
    good = '''
def draw(self, conv, message, done: Text):
    tell(self, f"New chat waiting: {conv.title}")
    self.query_one(Static).update(safe_text(f"{conv.title} is typing"))
    label = safe_text(conv.title) if conv else Text("none")
    tab.label = label
    box.border_title = "Transfer"
    yield Static(done)
    table.add_row("Name", safe_text(conv.visitor.name))
    text = Text("x")
    text.append_text(safe_text(message.body))
    entries: list[Text] = []
    for entry in entries:
        self.write(entry)
    Input(placeholder=clean(conv.department))
'''
    assert check_source(good, Path("good.py")) == []
