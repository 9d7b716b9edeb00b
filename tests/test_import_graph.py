"""The shape of `app`, read from its import statements (every one: at module level and inside functions): no import
cycles, core never imports the GUI or the CLI, and Documents retrieves without knowing about Chat."""

import ast
from pathlib import Path

import app

APP = Path(app.__file__).parent


def modules() -> dict[str, Path]:
    """`app.x.y` → its file, for every module and package under app/."""
    out = {}
    for path in APP.rglob("*.py"):
        parts = path.relative_to(APP.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports(name: str, path: Path, known: dict) -> set[str]:
    """The `app` modules that module `name` imports (a `from pkg import sub` names the submodule)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {id(n) for block in ast.walk(tree) if _type_checking(block) for n in ast.walk(block)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            for alias in node.names:
                target = f"{base}.{alias.name}"
                found.add(target if target in known else base)
    return {m for m in found if m in known and m != name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_checker_sees_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    edges = graph()
    assert "app.core.chat.jobs" in edges["app.core.chat.conversation"]  # module level
    assert "app.core.documents.retriever" in edges["app.core.chat.documents"]  # inside a function


def test_no_module_of_app_imports_itself_back():
    assert cycles(graph()) == []


def test_core_never_imports_the_gui_or_the_cli():
    offenders = [(m, d) for m, deps in graph().items() if m.startswith("app.core") for d in deps
                 if d.startswith(("app.ui", "app.cli"))]
    assert offenders == []


def test_documents_never_imports_chat():
    offenders = [(m, d) for m, deps in graph().items() if m.startswith("app.core.documents") for d in deps
                 if d.startswith("app.core.chat")]
    assert offenders == []
