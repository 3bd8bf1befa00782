"""The shape of jq's imports (docs/architecture.md): layers that import downwards only, no import
cycle larger than three modules, and an in-function ("lazy") import only where it breaks a cycle
or keeps a documented cost off start-up, each with a ``# lazy:`` comment saying which.

The imports counted are the ones that run: at module level and inside functions, but not under
``if TYPE_CHECKING:`` (annotations only) and not strings in docs. ``importlib.import_module`` of
a literal name counts as the import it is. Everything is read with :mod:`ast`: nothing of jq is
imported, so a cycle that would break an import is reported rather than raised.
"""

from __future__ import annotations

import ast
import pathlib
import pickle
import subprocess
import sys
from dataclasses import dataclass

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("jq", "jq_backends")

#: The layers, lowest first: a module imports (at module level) from its own layer or a lower
#: one. A module belongs to the layer of the longest prefix that names it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("jq.defaults", "jq.exceptions", "jq.version", "jq.types", "jq.base")),
    ("broker contract", ("jq.broker",)),
    ("serializers, signing, connections, plugins", ("jq.io", "jq.plugins")),
    ("drivers", ("jq_backends",)),
    ("core", ("jq.core",)),
    ("queues and registries", ("jq.queueing",)),
    ("scheduling", ("jq.scheduling",)),
    ("worker", ("jq.worker",)),
    ("RQ compatibility", ("jq.compat", "jq.contrib")),
    ("testing", ("jq.testing",)),
    # What the command line and the dashboard both do: an overview of a store, actions on it.
    ("operations", ("jq.admin",)),
    ("dashboard", ("jq.dashboard",)),
    ("command line", ("jq.cli", "jq.__main__")),
    # The package and the modules directly in it that re-export a layer's objects under the
    # paths users import (jq.job, jq.queue, RQ's rq.* names): nothing of jq imports them.
    ("public modules", ("jq",)),
]

#: In-function imports kept for a cost, not for a cycle: (importing module, imported module
#: prefix) -> why. Anything else imported inside a function must break a cycle.
STARTUP_COST: dict[tuple[str, str], str] = {
    # pytest loads jq's plugin in every session of an environment where jq is installed; a session
    # that uses none of its fixtures must not pay for importing the queue, the worker and redis-py.
    ("jq.testing.pytest_plugin", "jq"): "pytest loads the plugin in every session",
    ("jq.testing.pytest_plugin", "jq_backends"): "pytest loads the plugin in every session",
    # A memory:// store, the plugin's default, does not import redis-py.
    ("jq.testing.stores", "jq_backends.redis"): "a memory:// store does not import redis-py",
    # The dashboard is an optional extra: jqueue runs without werkzeug and Jinja2.
    ("jq.cli.dashboard", "jq.dashboard"): "an optional extra (jq-queue[dashboard])",
}

#: Other packages jq's modules may import inside a function, and why: optional dependencies, and
#: redis-py where only code that talks to Redis needs it. Anything else goes at module level.
OPTIONAL_OR_COSTLY: dict[str, str] = {
    "fakeredis": "an optional dependency (jq-queue[testing])",
    "setproctitle": "an optional dependency (jq-queue[setproctitle])",
    "redis": "jq imports redis-py only where it talks to Redis: a memory:// store does not pay for it",
}

#: The most modules one import cycle may take in (issue: "no cycle larger than two or three").
LARGEST_CYCLE = 3


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, pathlib.Path] = {
    _module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
}


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    lazy: bool
    comment: str  # the ``# lazy: ...`` text on the import's line or the line before, or ""


def _existing(name: str) -> str | None:
    """The module ``name`` is, or the nearest package above it that is one of jq's modules."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id in {"TYPE_CHECKING", "_TYPE_CHECKING"}) or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _lazy_comment(lines: list[str], line: int) -> str:
    """The ``# lazy:`` comment of the import on ``line``: on that line, or above it, where one
    comment may stand for a block of imports."""
    number = line
    while number >= 1:
        text = lines[number - 1].strip()
        _, hash_, comment = text.partition("# lazy:")
        if hash_:
            return comment.strip()
        continues = text.startswith(("from ", "import ", ")", "#")) or text.endswith(",") or not text
        if number != line and not continues:
            break
        number -= 1
    return ""


def _imports_of(module: str) -> list[Import]:
    path = MODULES[module]
    text = path.read_text()
    lines = text.splitlines()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []

    def add(targets: list[str], node: ast.stmt | ast.expr, lazy: bool) -> None:
        comment = _lazy_comment(lines, node.lineno)
        for target in targets:
            if target != module:
                found.append(Import(module, target, node.lineno, lazy, comment))

    def visit(node: ast.AST, lazy: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child, lazy)
            return
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            lazy = True
        if isinstance(node, ast.Import):
            add([t for alias in node.names if (t := _existing(alias.name))], node, lazy)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] in PACKAGES:
                targets = []
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    target = submodule if submodule in MODULES else _existing(source)
                    if target:
                        targets.append(target)
                add(targets, node, lazy)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (target := _existing(node.args[0].value))
        ):
            add([target], node, lazy)
        for child in ast.iter_child_nodes(node):
            visit(child, lazy)

    visit(ast.parse(text), False)
    return found


IMPORTS: list[Import] = [found for module in MODULES for found in _imports_of(module)]


def _graph(only_module_level: bool) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for found in IMPORTS:
        if not (only_module_level and found.lazy):
            graph[found.source].add(found.target)
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of ``graph``, largest first (iterative: no
    recursion limit to meet)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root, children_of_root in graph.items():
        if root in index:
            continue
        work = [(root, iter(sorted(children_of_root)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return sorted(components, key=lambda component: (-len(component), component))


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen: set[str] = set()
    todo = [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(graph[node])
    return False


def layer_of(module: str) -> int:
    best, best_length = -1, -1
    for number, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_length:
                best, best_length = number, len(prefix)
    return best


def _cycles_report(components: list[list[str]]) -> str:
    return "; ".join(" <-> ".join(component) for component in components if len(component) > 1) or "none"


def test_every_module_has_a_layer():
    assert [module for module in MODULES if layer_of(module) < 0] == []


def test_no_import_cycle_is_larger_than_three_modules():
    components = strongly_connected(_graph(only_module_level=False))
    largest = components[0]
    assert len(largest) <= LARGEST_CYCLE, (
        f"the imports that run (module level and in functions) form a cycle of {len(largest)} "
        f"modules: {', '.join(largest)}. Every cycle: {_cycles_report(components)}"
    )


def test_module_level_imports_have_no_cycle():
    components = strongly_connected(_graph(only_module_level=True))
    assert len(components[0]) == 1, f"import cycles at module level: {_cycles_report(components)}"


def _startup_cost_reason(found: Import) -> str | None:
    for (source, prefix), reason in STARTUP_COST.items():
        if found.source == source and (found.target == prefix or found.target.startswith(prefix + ".")):
            return reason
    return None


def test_every_lazy_import_says_why():
    unexplained = [
        f"{MODULES[found.source].relative_to(ROOT)}:{found.line} imports {found.target}"
        for found in IMPORTS
        if found.lazy and not found.comment
    ]
    assert unexplained == [], (
        "imports inside functions need a '# lazy: <why>' comment on their line or the line "
        "before:\n" + "\n".join(unexplained)
    )


def test_every_lazy_import_breaks_a_cycle_or_a_documented_cost():
    module_level = _graph(only_module_level=True)
    needless = [
        f"{MODULES[found.source].relative_to(ROOT)}:{found.line} imports {found.target} in a function, "
        f"but {found.target} does not import {found.source}: import it at module level"
        for found in IMPORTS
        if found.lazy
        and _startup_cost_reason(found) is None
        and not _reaches(module_level, found.target, found.source)
    ]
    assert needless == [], "\n".join(needless)


def _other_lazy_imports() -> list[tuple[str, int, str, str]]:
    """``(module, line, imported package, comment)`` of each import of anything but jq inside a
    function of jq's own modules (the drivers are their authors')."""
    found = []
    for module, path in MODULES.items():
        if not module.startswith("jq.") or module.startswith("jq.broker"):
            continue
        text = path.read_text()
        lines = text.splitlines()

        def visit(node: ast.AST, lazy: bool) -> None:
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                return
            lazy = lazy or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if lazy and isinstance(node, ast.Import | ast.ImportFrom) and not getattr(node, "level", 0):
                name = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                package = (name or "").split(".")[0]
                if package not in PACKAGES:
                    found.append((module, node.lineno, package, _lazy_comment(lines, node.lineno)))
            for child in ast.iter_child_nodes(node):
                visit(child, lazy)

        visit(ast.parse(text), False)
    return found


def test_other_lazy_imports_are_optional_or_costly_dependencies():
    wrong = [
        f"{MODULES[module].relative_to(ROOT)}:{line} imports {package} in a function"
        + ("" if comment else " without a '# lazy:' comment")
        + ("" if package in OPTIONAL_OR_COSTLY else ": import it at module level")
        for module, line, package, comment in _other_lazy_imports()
        if package not in OPTIONAL_OR_COSTLY or not comment
    ]
    assert wrong == [], "\n".join(wrong)


def test_imports_point_down_the_layers():
    upward = [
        f"{MODULES[found.source].relative_to(ROOT)}:{found.line}: {found.source} "
        f"({LAYERS[layer_of(found.source)][0]}) imports {found.target} ({LAYERS[layer_of(found.target)][0]})"
        for found in IMPORTS
        if not found.lazy and layer_of(found.target) > layer_of(found.source)
    ]
    assert upward == [], "module-level imports from a lower layer to a higher one:\n" + "\n".join(upward)


@pytest.mark.parametrize(
    ("public", "home"),
    [
        ("jq.job", "jq.core.job"),
        ("jq.queue", "jq.queueing.queue"),
        ("jq.registry", "jq.queueing.registry"),
        ("jq.retry", "jq.core.retry"),
        ("jq.scheduler", "jq.scheduling.scheduler"),
    ],
)
def test_public_modules_give_the_same_objects(public, home):
    import importlib

    public_module, home_module = importlib.import_module(public), importlib.import_module(home)
    shared = [name for name in public_module.__all__ if hasattr(home_module, name)]
    assert shared
    for name in shared:
        assert getattr(public_module, name) is getattr(home_module, name)


PUBLIC_MODULES = sorted(
    module
    for module in MODULES
    if module.count(".") == 1 and layer_of(module) == len(LAYERS) - 1 and module != "jq.__init__"
)


def test_classes_keep_their_public_module():
    """What pickle stores for a class, and what reprs show, is the path users import it from."""
    import importlib

    # The packages of the layers (jq.worker's modules are RQ's paths too: rq.worker.worker_classes).
    layered = ["jq.base", "jq.io", "jq.core", "jq.queueing", "jq.scheduling", "jq.compat", "jq.worker.pool"]
    misnamed = []
    for public in PUBLIC_MODULES:
        module = importlib.import_module(public)
        for name in module.__all__:
            value = getattr(module, name)
            home = getattr(value, "__module__", "") or ""
            if isinstance(value, type) and any(home == p or home.startswith(p + ".") for p in layered):
                misnamed.append(f"{public}.{name} says it is {home}.{name}")
    assert misnamed == []


def test_a_pickled_retry_names_its_public_module():
    from jq.retry import Retry

    data = pickle.dumps(Retry(max=2))
    assert b"jq.retry" in data and b"jq.core" not in data
    assert pickle.loads(data).max == 2


def test_a_job_status_pickled_before_the_layers_still_loads():
    from jq.job import JobStatus

    # pickle.dumps(JobStatus.QUEUED) by jq before its layers, when the class lived in jq.job_state.
    before = (
        b"\x80\x04\x95+\x00\x00\x00\x00\x00\x00\x00\x8c\x0cjq.job_state\x94"
        b"\x8c\tJobStatus\x94\x93\x94\x8c\x06queued\x94\x85\x94R\x94."
    )
    assert pickle.loads(before) is JobStatus.QUEUED
    assert b"jq.job\x94" in pickle.dumps(JobStatus.QUEUED)


@pytest.mark.parametrize(
    "code",
    [
        "from jq.job import Job; job = Job.create('builtins.abs', args=(1,), origin='q', connection='memory://')",
        "import jq; job = jq.Job.create('builtins.abs', args=(1,), origin='q', connection='memory://')",
        "import jq.core.job, jq.group; job = jq.core.job.Job.create('builtins.abs', origin='q', connection='memory://')",
    ],
)
def test_a_job_reaches_its_queue_registries_and_executions_in_a_fresh_process(code):
    """The queueing layer plugs its classes into the core's Job: a job got from a public module
    has its queue, its queue's registries and its executions, whatever was imported first."""
    shown = "print(job.queue.name, job.started_job_registry.name, job.execution_registry.job_id == job.id)"
    done = subprocess.run(
        [sys.executable, "-c", f"{code}; {shown}"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["q", "q", "True"]


def report() -> str:
    """The numbers this test checks, for a person: ``python -m tests.test_import_layers``."""
    components = strongly_connected(_graph(only_module_level=False))
    lazy = [found for found in IMPORTS if found.lazy]
    statements = {(found.source, found.line) for found in lazy}
    lines = [
        f"modules: {len(MODULES)}",
        f"largest cycle: {len(components[0])} modules: {', '.join(components[0])}",
        f"every cycle: {_cycles_report(components)}",
        f"lazy imports of jq modules: {len(statements)} statements",
    ]
    for found in lazy:
        where = f"{MODULES[found.source].relative_to(ROOT)}:{found.line}"
        lines.append(f"  {where} -> {found.target}: {found.comment or '(no comment)'}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
