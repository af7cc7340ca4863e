"""procfs and analysis import only downwards; the stdlib-only modules import no numpy or pandas.

Every import statement counts, at module level or inside a function.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "pextlab"

ALLOWED = {
    # package -> pextlab subpackages/modules it may import
    "procfs": {"procfs", "kernel", "errors", "schema"},
    "analysis": {"analysis", "frames", "procfs", "kernel", "errors", "schema"},
}
# `pextlab sort` starts without numpy or pandas: its modules and what they import
STDLIB_ONLY = ["procfs/page_owner_grammar.py", "procfs/limits.py", "procfs/textio.py",
               "analysis/sort_options.py", "analysis/sort_text.py", "analysis/sort_cli.py"]


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path):
    """(line, absolute module name) of every import in ``path``."""
    mod = _module_name(path)
    package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            yield node.lineno, target
            if node.module is None or (node.level and not node.module):
                for a in node.names:
                    yield node.lineno, f"{target}.{a.name}"


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_down(package):
    bad = []
    for path in sorted((PKG / package).rglob("*.py")):
        for line, target in _imports(path):
            if target == "pextlab" or target.startswith("pextlab."):
                parts = target.split(".")
                top = parts[1] if len(parts) > 1 else "pextlab"
                if top not in ALLOWED[package]:
                    bad.append(f"{path.relative_to(SRC)}:{line} imports {target}")
    assert not bad, "\n".join(bad)


def _top_level_imports(path: Path):
    """Imports executed when the module is imported (not those inside functions)."""
    tree = ast.parse(path.read_text())
    inside = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
              for n in ast.walk(f)}
    return [(line, t) for line, t in _imports(path) if not any(
        id(n) in inside for n in ast.walk(tree)
        if isinstance(n, (ast.Import, ast.ImportFrom)) and n.lineno == line)]


@pytest.mark.parametrize("rel", STDLIB_ONLY)
def test_stdlib_only_modules(rel):
    pextlab_ok = ["pextlab." + r[:-3].replace("/", ".") for r in STDLIB_ONLY] + ["pextlab.errors"]
    heavy = []
    for line, target in _top_level_imports(PKG / rel):
        root = target.split(".")[0]
        if root in ("numpy", "pandas", "matplotlib", "ipywidgets"):
            heavy.append(f"{rel}:{line} imports {target}")
        if root == "pextlab" and target not in pextlab_ok + ["pextlab.procfs", "pextlab.analysis"]:
            heavy.append(f"{rel}:{line} imports {target} (not stdlib-only)")
    assert not heavy, "\n".join(heavy)


def test_kernel_vmstat_is_numpy_and_stdlib():
    bad = [t for _, t in _imports(PKG / "kernel" / "vmstat.py")
           if t.split(".")[0] in ("pandas", "matplotlib", "pextlab")]
    assert not bad, bad


def test_no_private_names_cross_modules():
    """``from x import _name`` only inside one module's own package-private helpers: never."""
    bad = []
    for package in ALLOWED:
        for path in sorted((PKG / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom):
                    for a in node.names:
                        if a.name.startswith("_") and not a.name.startswith("__"):
                            bad.append(f"{path.relative_to(SRC)}:{node.lineno} imports {a.name}")
    assert not bad, "\n".join(bad)


def test_every_module_has_all():
    missing = [str(p.relative_to(SRC)) for package in ALLOWED for p in sorted((PKG / package).rglob("*.py"))
               if not any(isinstance(n, (ast.Assign, ast.AnnAssign)) and any(
                   isinstance(t, ast.Name) and t.id == "__all__"
                   for t in (n.targets if isinstance(n, ast.Assign) else [n.target]))
                   for n in ast.parse(p.read_text()).body)]
    assert not missing, missing
