"""The house rules of the source tree, checked from its syntax (``ast``), so a change
that breaks them fails here rather than in review:

* imports point down the layers only, and there is no cycle anywhere (imports
  inside functions count);
* an import inside a function is for an optional heavy dependency only: a
  third-party module of LAZY_OK, or -- in the modules that must start without
  numpy and pandas (FAST_START: the ``pextlab`` command and ``pextlab sort``, whose
  start-up time is measured in tests/test_sort_text.py) -- the pandas-backed
  modules a command needs, imported when that command runs;
* no private name (``_x``) is imported from another module;
* every module has an explicit ``__all__``; every package ``__init__`` opens with a
  docstring; ``kernel/`` imports neither pandas, matplotlib nor ipywidgets.

The compiled modules (``*.pyx``, Cython) obey the same rules: their Python-level
imports and ``__all__`` are read from their top-level statements (``_pyx_subset``).

There is no allowlist.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "src" / "pextlab"

#: layer of each module, by dotted name prefix below ``pextlab`` (longest prefix wins);
#: a module may import modules of its own layer (no cycle) or of lower layers
LAYERS = {
    "errors": 0, "kernel": 0,
    "schema": 1,
    "frames": 2, "procfs": 2,
    "workloads": 3, "plot": 3, "analysis": 3,
    "machine": 4, "capture": 4, "snapshot": 4, "replay": 4, "sweep": 4, "hotplug": 4, "vm": 4,
    "policy_check": 4, "studies": 4, "fidelity": 4, "exercises": 4, "tracing": 4, "cma": 4,
    "capture_writer": 4,
    "cli": 5, "report": 5, "capture_tool": 5,
    "lab": 6,
    "widgets": 7,
    "": 8,                       # pextlab/__init__.py: the lazy top-level names
}

#: third-party modules a function may import lazily (optional or heavy)
LAZY_OK = {"matplotlib", "IPython", "ipywidgets", "distributed", "dask", "cloudpickle", "pandas"}

#: modules that must start without numpy/pandas: they import the pandas-backed
#: modules of a command inside the function that runs it (never upwards: the layer
#: and cycle tests see those imports too)
FAST_START = {"cli", "capture_tool", "analysis.sort_cli"}


def _modules() -> dict[str, Path]:
    out = {}
    for p in sorted(ROOT.rglob("*.py")) + sorted(ROOT.rglob("*.pyx")):
        rel = p.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


MODULES = _modules()


def _layer(mod: str) -> int:
    parts = mod.split(".")
    for i in range(len(parts), -1, -1):
        key = ".".join(parts[:i])
        if key in LAYERS:
            return LAYERS[key]
    raise AssertionError(f"module pextlab.{mod} has no layer in LAYERS: add it")


def _resolve(mod: str, node: ast.ImportFrom) -> str | None:
    """The pextlab-relative module an ImportFrom names (None: not pextlab)."""
    if node.level:
        base = mod.split(".") if mod else []
        if not MODULES[mod].name == "__init__.py":
            base = base[:-1]
        base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
        name = ".".join(base + ([node.module] if node.module else []))
        return name
    if node.module and (node.module == "pextlab" or node.module.startswith("pextlab.")):
        return node.module[len("pextlab."):] if node.module != "pextlab" else ""
    return None


def _targets(mod: str, node) -> list[str]:
    """pextlab modules an import statement depends on."""
    out = []
    if isinstance(node, ast.ImportFrom):
        base = _resolve(mod, node)
        if base is None:
            return []
        for a in node.names:
            sub = f"{base}.{a.name}" if base else a.name
            out.append(sub if sub in MODULES else base)
    elif isinstance(node, ast.Import):
        for a in node.names:
            if a.name == "pextlab" or a.name.startswith("pextlab."):
                out.append(a.name[len("pextlab."):] if a.name != "pextlab" else "")
    return [t for t in out if t != mod]


def _pyx_subset(text: str) -> str:
    """The Python statements of a Cython module that the rules look at: its top-level
    ``import`` / ``from ... import`` and ``__all__``, each with its continuation lines
    (an open parenthesis or bracket).  A ``cimport`` of one of our modules (``from
    ._buddy cimport ...``) is a dependency too and is read as an import; C libraries'
    (libc, cpython) are declarations, not modules of ours."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("from .") and " cimport " in line:
            line = lines[i] = line.replace(" cimport ", " import ")
        take = (line.startswith(("import ", "from ", "__all__")) and " cimport " not in line)
        if take:
            stmt = [line]
            depth = line.count("(") + line.count("[") - line.count(")") - line.count("]")
            while depth > 0:
                i += 1
                stmt.append(lines[i])
                depth += lines[i].count("(") + lines[i].count("[") - lines[i].count(")") \
                    - lines[i].count("]")
            out += stmt
        i += 1
    return "\n".join(out) + "\n"


def _trees():
    return {m: ast.parse(_pyx_subset(p.read_text()) if p.suffix == ".pyx" else p.read_text(),
                         str(p))
            for m, p in MODULES.items()}


TREES = _trees()


def _graph() -> dict[str, set[str]]:
    g: dict[str, set[str]] = {m: set() for m in MODULES}
    for m, tree in TREES.items():
        for node in ast.walk(tree):
            for t in _targets(m, node):
                # a package's __init__ is where its names live: an import of
                # pextlab.workloads depends on workloads/__init__.py
                if t in MODULES:
                    g[m].add(t)
    return g


GRAPH = _graph()


def test_every_module_has_a_layer():
    for m in MODULES:
        _layer(m)


def test_imports_point_down():
    bad = []
    for m, deps in GRAPH.items():
        for t in deps:
            if _layer(t) > _layer(m):
                bad.append(f"pextlab.{m} (layer {_layer(m)}) imports pextlab.{t} (layer {_layer(t)})")
    assert not bad, "\n".join(sorted(bad))


def test_no_import_cycle():
    index, low, stack, on, comps = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert not comps, "import cycles: " + "; ".join(", ".join(c) for c in comps)


def test_imports_inside_functions_only_for_optional_heavy_dependencies():
    bad = []
    for m, tree in TREES.items():
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = ["." * node.level + (node.module or "")]
                else:
                    continue
                for n in names:
                    if n.split(".")[0] not in LAZY_OK and m not in FAST_START:
                        bad.append(f"pextlab.{m}:{node.lineno} imports {n} inside {fn.name}()")
    assert not bad, "\n".join(bad)


def test_no_private_name_crosses_modules():
    bad = []
    for m, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and _resolve(m, node) is not None:
                for a in node.names:
                    if a.name.startswith("_") and not a.name.startswith("__"):
                        bad.append(f"pextlab.{m}:{node.lineno} imports private {a.name}")
    assert not bad, "\n".join(bad)


def test_every_module_declares_all():
    missing = []
    for m, tree in TREES.items():
        has = any(isinstance(n, (ast.Assign, ast.AnnAssign)) and any(
            isinstance(t, ast.Name) and t.id == "__all__"
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target]))
            for n in tree.body)
        if not has:
            missing.append(f"pextlab.{m}" if m else "pextlab")
    assert not missing, "modules without __all__: " + ", ".join(sorted(missing))


def test_packages_open_with_a_docstring():
    bare = [m or "pextlab" for m, p in MODULES.items()
            if p.name == "__init__.py" and not ast.get_docstring(TREES[m])]
    assert not bare, "packages without a docstring: " + ", ".join(bare)


@pytest.mark.parametrize("lib", ["pandas", "matplotlib", "ipywidgets", "IPython"])
def test_kernel_stays_pure(lib):
    bad = []
    for m, tree in TREES.items():
        if _layer(m) != 0:
            continue
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            bad += [f"pextlab.{m}:{node.lineno}" for n in names if n.split(".")[0] == lib]
    assert not bad, f"{lib} imported in the kernel layer: " + ", ".join(bad)


def test_the_checker_sees_a_violation(tmp_path):
    """The graph builder is not blind: a relative import from a function resolves."""
    tree = ast.parse("def f():\n    from ..machine import boot\n")
    node = tree.body[0].body[0]
    assert _targets("kernel.policy", node) == ["machine"]
    assert _layer("machine") > _layer("kernel.policy")


def test_compiled_modules_are_checked_too():
    """The .pyx modules are in the graph with their imports (the compiled core)."""
    pyx = {m for m, p in MODULES.items() if p.suffix == ".pyx"}
    assert {"kernel._buddy", "kernel._fastpath", "kernel._page_owner"} <= pyx
    assert "kernel.buddy" in GRAPH["kernel._fastpath"]
    assert "kernel._buddy" in GRAPH["kernel._fastpath"]          # through its cimport
    sub = _pyx_subset("from .a import (b,\n    c)\nfrom libc.stdint cimport int64_t\n"
                      "cdef long X = 1\n__all__ = [\"b\",\n    \"c\"]\n")
    assert ast.parse(sub) and "cimport" not in sub and "cdef" not in sub


def test_top_level_names_resolve():
    """Every name ``pextlab.__all__`` promises is there (issue 4's ``read_page_owner`` among them)."""
    import pextlab
    assert {"boot", "read_capture", "read_page_owner", "replay", "compare", "sweep",
            "check_policy", "widgets"} <= set(pextlab.__all__)
    for name in pextlab.__all__:
        assert getattr(pextlab, name) is not None, name


def test_docstring_examples_are_not_skipped():
    """Docstring examples run in make test (--doctest-modules src/pextlab): none is skipped."""
    skipped = [f"pextlab.{m}" for m, p in MODULES.items() if "doctest: +SKIP" in p.read_text()]
    assert not skipped, "examples marked +SKIP in: " + ", ".join(skipped)
