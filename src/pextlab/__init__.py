"""pextlab: a laboratory for Linux physical-memory bookkeeping.

Simulate page_ext, page_owner and the buddy allocator faithfully, or read a real
kernel's files, and get the same pandas DataFrames either way.

>>> import pextlab
>>> m = pextlab.boot(mem="1G", cmdline="page_owner=on")
>>> m.df_zones()[["zone", "managed"]].head(2).values.tolist()
[['DMA', 3840], ['DMA32', 248522]]

Names are imported on first use (PEP 562), so ``import pextlab`` and the
command line stay quick: ``pextlab sort`` never loads pandas.
"""
from __future__ import annotations

import importlib
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

__version__ = "0.1.0"


def _check_compiled_core() -> None:
    """Fail once, clearly, if a compiled module of the core (every ``*.pyx`` of the
    package, docs/compiled-core.md) has no built extension next to it: a checkout
    that was never built, or one that gained a ``.pyx`` since ``make setup``.  Every
    ``pextlab.*`` import passes here first."""
    root = Path(__file__).resolve().parent
    missing = [str(p.relative_to(root.parent)) for p in sorted(root.rglob("*.pyx"))
               if not any(p.with_suffix(s).exists() for s in EXTENSION_SUFFIXES)]
    if missing:
        raise ImportError(f"pextlab's compiled core is not built ({', '.join(missing)}): run "
                          f"`make setup`, or `pip install -e .` in the repository")


_check_compiled_core()

# public name -> (module, attribute or None for the module itself)
_LAZY = {
    "boot": ("pextlab.machine", "boot"),
    "Machine": ("pextlab.machine", "Machine"),
    "read_capture": ("pextlab.capture", "read_capture"),
    "read_page_owner": ("pextlab.procfs.page_owner", "read_page_owner"),
    "Capture": ("pextlab.capture", "Capture"),
    "replay": ("pextlab.replay", "replay"),
    "compare": ("pextlab.fidelity", "compare"),
    "sweep": ("pextlab.sweep", "sweep"),
    "check_policy": ("pextlab.policy_check", "check_policy"),
    "studies": ("pextlab.studies", None),
    "workloads": ("pextlab.workloads", None),
    "tracing": ("pextlab.tracing", None),
    "read_trace": ("pextlab.procfs.trace", "read_trace"),
    "lab": ("pextlab.lab", None),
    "widgets": ("pextlab.widgets", None),
    "plot": ("pextlab.plot", None),
    "analysis": ("pextlab.analysis", None),
    "exercises": ("pextlab.exercises", None),
    "Layout": ("pextlab.kernel.layout", "Layout"),
    "layout_from_spec": ("pextlab.kernel.layout", "layout_from_spec"),
    "PROFILES": ("pextlab.kernel.profiles", "PROFILES"),
    "get_profile": ("pextlab.kernel.profiles", "get_profile"),
    "SCHEMAS": ("pextlab.schema", "SCHEMAS"),
    "PextlabError": ("pextlab.errors", "PextlabError"),
    "ParseError": ("pextlab.errors", "ParseError"),
    "LayoutError": ("pextlab.errors", "LayoutError"),
    "ProfileError": ("pextlab.errors", "ProfileError"),
    "KernelPanic": ("pextlab.errors", "KernelPanic"),
}
__all__ = sorted(_LAZY)


def __getattr__(name: str):
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'pextlab' has no attribute {name!r}") from None
    mod = importlib.import_module(module)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
