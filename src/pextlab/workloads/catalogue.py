"""The stack catalogue: real allocation stacks, each with the context it represents.

``data/stacks/catalogue.json`` is built by ``tools/build_stack_catalogue.py``
from the page_owner dumps of real 6.12 machines (``data/real-kernel``).  Each
entry is one (stack, gfp mask, order) seen there, with its *kind* (``anon``,
``page_cache``, ``slab``, ``slab_reclaimable``, ``page_tables``,
``kernel_stack``, ``populate``, ``vmalloc``, ``pipe``, ``kmalloc_large``,
``huge``, ``other``), a one-line context, and how many blocks the dumps held
(``observed_blocks``, the weight workloads draw stacks with).

>>> cat = load_catalogue()
>>> e = cat.entries("anon")[0]
>>> (e.kind, e.gfp, e.order)
('anon', 'GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO', 0)
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import PextlabError

__all__ = ["StackEntry", "Catalogue", "load_catalogue", "CATALOGUE_PATH"]

#: The shipped catalogue (repository ``data/stacks/catalogue.json``).
CATALOGUE_PATH = Path(__file__).resolve().parents[3] / "data" / "stacks" / "catalogue.json"


@dataclass(frozen=True)
class StackEntry:
    """One catalogue stack: where an allocation of this kind comes from."""
    id: str
    kind: str
    context: str
    gfp_mask: int
    gfp: str
    migratetype: str
    order: int
    observed_blocks: int
    frames: tuple[str, ...]


class Catalogue:
    """Stacks by kind, plus each kind's (symbolic) free stack."""

    def __init__(self, data: dict, path: str | None = None):
        if data.get("format") != "pextlab.stack_catalogue/1":
            raise PextlabError(f"{path or 'catalogue'}: not a pextlab stack catalogue "
                               f"(format {data.get('format')!r})")
        self.path = path
        self.kinds: dict[str, str] = dict(data["kinds"])
        self.free_stacks = {k: tuple(v) for k, v in data["free_stacks"].items()}
        self.notes = data.get("notes", "")
        self.built_from = tuple(data.get("built_from", ()))
        self._by_id: dict[str, StackEntry] = {}
        self._by_kind: dict[str, list[StackEntry]] = {}
        for s in data["stacks"]:
            e = StackEntry(id=s["id"], kind=s["kind"], context=s["context"],
                           gfp_mask=int(s["gfp_mask"]), gfp=s["gfp"], migratetype=s["migratetype"],
                           order=int(s["order"]), observed_blocks=int(s["observed_blocks"]),
                           frames=tuple(s["frames"]))
            self._by_id[e.id] = e
            self._by_kind.setdefault(e.kind, []).append(e)

    def __len__(self) -> int:
        return len(self._by_id)

    def __getitem__(self, stack_id: str) -> StackEntry:
        try:
            return self._by_id[stack_id]
        except KeyError:
            raise PextlabError(f"no stack {stack_id!r} in the catalogue "
                               f"(ids look like 'anon-0', 'slab-3')") from None

    def entries(self, kind: str) -> list[StackEntry]:
        """The stacks of one kind, most observed first."""
        if kind not in self._by_kind:
            raise PextlabError(f"unknown allocation kind {kind!r}; catalogue kinds: "
                               f"{', '.join(sorted(self._by_kind))}")
        return list(self._by_kind[kind])

    def to_records(self) -> list[dict]:
        """One dict per stack (for ``pandas.DataFrame``)."""
        return [{"id": e.id, "kind": e.kind, "gfp_mask": e.gfp_mask, "gfp": e.gfp,
                 "migratetype": e.migratetype, "order": e.order,
                 "observed_blocks": e.observed_blocks, "depth": len(e.frames),
                 "context": e.context, "stack": "\n".join(e.frames)}
                for e in self._by_id.values()]


@lru_cache(maxsize=4)
def _load(path: str) -> Catalogue:
    p = Path(path)
    if not p.is_file():
        raise PextlabError(f"stack catalogue {p} not found; rebuild it with "
                           f"tools/build_stack_catalogue.py")
    with open(p) as fh:
        return Catalogue(json.load(fh), str(p))


def load_catalogue(path=None) -> Catalogue:
    """The stack catalogue (default: the shipped ``data/stacks/catalogue.json``), cached."""
    return _load(str(CATALOGUE_PATH if path is None else Path(path).resolve()))
