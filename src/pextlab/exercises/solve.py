"""Solvers that read only the hand-out: the reference one and a naive one.

Both open the folder the way a student does -- ``exercise.json`` for the question's
fields and the dumps' labels and times, ``pextlab.read_capture(folder,
snapshot=label).df_page_owner()`` for the evidence -- and never look at the
simulated machine.

The reference solver (:func:`reference_answer`) follows the spec's strategy:

* ``growth`` -- per stack, pages in every dump; the culprit is the stack that grew in
  every interval and grew the most from the first dump to the last (a hog stays
  flat, churn goes up and down, a leak only goes up);
* ``partial`` -- the stack that shrank between the first and the last dump but kept
  some pages, none of them allocated since the dump before the last (a task that
  stopped allocating and left blocks behind);
* ``false_alarm`` -- the suspect is the stack that grew the most in the first
  interval; it leaks if it keeps growing in every interval.

Then the fields: ``comm`` the comm owning most of the stack's pages; ``top_frame`` the
first function of the stack that no other stack of the last dump has; ``node`` the
node where the stack grew most; ``order`` the stack's commonest order; ``pages`` its
pages in the last dump; ``pages_per_s`` its growth over the seconds between the first
and last dump (``uptime_s``); ``migrated_pages`` its pages whose last migrate reason
is ``compaction``.

The naive solver (:func:`naive_answer`) is what a hurried investigator does: take the
last dump's biggest owner (by comm, or by stack without comms) and report it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..capture import read_capture
from .check import read_exercise, stack_functions

__all__ = ["reference_answer", "naive_answer", "load_dumps", "pages_by_stack", "distinguishing_frame"]

_MIN_GROWTH = 1          # pages a leaking stack gains in every interval, at least


def load_dumps(folder) -> tuple[dict, list[pd.DataFrame], np.ndarray]:
    """(exercise.json, page_owner frame of every dump oldest first, uptime of each in s)."""
    meta = read_exercise(folder)
    frames = [read_capture(Path(folder), snapshot=d["label"]).df_page_owner() for d in meta["dumps"]]
    return meta, frames, np.array([float(d["uptime_s"]) for d in meta["dumps"]])


def pages_by_stack(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Pages per stack (rows) in each dump (columns 0..n-1), missing = 0."""
    cols = [f.groupby(f["stack"].astype(object), sort=False)["nr_pages"].sum().rename(i)
            for i, f in enumerate(frames)]
    return pd.concat(cols, axis=1).fillna(0).astype("int64")


def distinguishing_frame(df: pd.DataFrame, stack: str) -> str:
    """The first function of ``stack`` (outside the allocator) that no other stack of
    ``df`` has; the stack's first function when every one is shared."""
    others = set()
    for s in df["stack"].astype(object).unique():
        if isinstance(s, str) and s != stack:
            others.update(stack_functions(s))
    mine = stack_functions(stack)
    return next((f for f in mine if f not in others), mine[0] if mine else "")


def _growth_culprit(P: pd.DataFrame) -> str:
    d = P.diff(axis=1).iloc[:, 1:]
    total = P.iloc[:, -1] - P.iloc[:, 0]
    steady = (d >= _MIN_GROWTH).all(axis=1) if d.shape[1] else pd.Series(True, index=P.index)
    cand = total[steady]
    return (cand if len(cand) else total).idxmax()


def _partial_culprit(P: pd.DataFrame, frames, uptimes) -> str:
    last, prev = frames[-1], uptimes[-2] if len(uptimes) > 1 else uptimes[-1]
    newest = last.groupby(last["stack"].astype(object), sort=False)["ts_ns"].max()
    shrank = P[(P.iloc[:, -1] > 0) & (P.iloc[:, 0] > P.iloc[:, -1])]
    idle = [s for s in shrank.index if newest.get(s, -1) < prev * 1e9]
    pool = shrank.loc[idle] if idle else shrank
    return (pool.iloc[:, 0] - pool.iloc[:, -1]).idxmax()


def _fields(meta, frames, uptimes, P, stack: str, leak: bool) -> dict:
    last = frames[-1]
    rows = last[last["stack"].astype(object) == stack]
    ans = {}
    for f in meta["fields"]:
        if f == "comm":
            by = rows.groupby(rows["comm"].astype(object), sort=False)["nr_pages"].sum()
            ans[f] = by.idxmax() if len(by) else ""
        elif f == "top_frame":
            ans[f] = distinguishing_frame(last, stack)
        elif f == "node":
            first = frames[0]
            r0 = first[first["stack"].astype(object) == stack]
            g = (rows.groupby("node")["nr_pages"].sum()
                 .sub(r0.groupby("node")["nr_pages"].sum(), fill_value=0))
            ans[f] = int(g.idxmax())
        elif f == "order":
            ans[f] = int(rows["order"].mode().iloc[0])
        elif f == "pages":
            ans[f] = int(P.loc[stack].iloc[-1])
        elif f == "pages_per_s":
            dt = uptimes[-1] - uptimes[0]
            ans[f] = float(P.loc[stack].iloc[-1] - P.loc[stack].iloc[0]) / dt if dt > 0 else 0.0
        elif f == "migrated_pages":
            moved = rows["last_migrate_reason"].astype(object) == "compaction"
            ans[f] = int(rows.loc[moved, "nr_pages"].sum())
        elif f == "leak":
            ans[f] = leak
    return ans


def reference_answer(folder, dumps=None) -> dict:
    """The answer the spec's strategy finds in the hand-out ``folder`` (field -> value);
    ``dumps`` is what :func:`load_dumps` returned for it, when already read."""
    meta, frames, uptimes = dumps or load_dumps(folder)
    P = pages_by_stack(frames)
    leak = True
    if meta["solver"] == "partial":
        stack = _partial_culprit(P, frames, uptimes)
    elif meta["solver"] == "false_alarm":
        first = P.iloc[:, 1] - P.iloc[:, 0] if P.shape[1] > 1 else P.iloc[:, 0]
        stack = first.idxmax()
        d = P.loc[stack].diff().iloc[1:]
        # a leak gains at least 2 % of what it holds in every interval
        leak = bool(len(d)) and bool((d > 0.02 * P.loc[stack].iloc[:-1].to_numpy()).all())
    else:
        stack = _growth_culprit(P)
    return _fields(meta, frames, uptimes, P, stack, leak)


def naive_answer(folder, dumps=None) -> dict:
    """The last dump's biggest owner (by comm when the dump has comms, else by stack),
    reported as the culprit."""
    meta, frames, uptimes = dumps or load_dumps(folder)
    last = frames[-1]
    P = pages_by_stack(frames)
    comms = last["comm"].astype(object)
    if comms.notna().any():
        top = last.groupby(comms, sort=False)["nr_pages"].sum().idxmax()
        mine = last[comms == top]
        stack = mine.groupby(mine["stack"].astype(object), sort=False)["nr_pages"].sum().idxmax()
    else:
        stack = P.iloc[:, -1].idxmax()
    ans = _fields(meta, frames, uptimes, P, stack, True)
    if "comm" in ans and comms.notna().any():
        ans["comm"] = top
        if "pages" in ans:
            ans["pages"] = int(mine["nr_pages"].sum())
    if "pages_per_s" in ans:
        ans["pages_per_s"] = float(P.loc[stack].iloc[-1]) / max(uptimes[-1], 1e-9)
    return ans
