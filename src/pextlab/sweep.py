"""``pextlab.sweep``: run a function over a grid of scenarios, get one tidy DataFrame.

::

    def study(seed, policy):
        m = pextlab.boot(mem="1G", cmdline="page_owner=on", policy=policy)
        m.run(pextlab.workloads.fragger(seed=seed))
        return pextlab.analysis.fragmentation.frag_metrics(m.snapshots["after_free"])

    df = pextlab.sweep(study, grid={"seed": range(20), "policy": ["v6.12", "no-mobility-grouping"]})

* **Grid**: a dict of name -> values (the cartesian product, first key
  slowest) or a list of dicts (explicit points).  Each point is called as
  ``fn(**point)``.
* **Seeds**: when the grid has no ``seed`` and ``fn`` takes one, each run gets
  its own, derived from ``seed=`` and the run number
  (``numpy.random.SeedSequence([seed, run])``): the same sweep gives the same
  seeds whatever the executor or the order runs finish in.
* **Results**: ``fn`` returns a dict / Series (one row), a DataFrame (its rows,
  each tagged with the point) or a scalar (column ``value``).  Every row has
  ``run``, the point's parameters, ``seed`` when one was passed, the results,
  ``error`` (None, or ``"ValueError: ..."``) and ``elapsed_s``.  A failing
  point gives one error row and never loses the others.
* **Executors**: ``None``/``"process"``: a local process pool (``workers``,
  default the CPU count); ``"serial"``: in this process; any
  ``concurrent.futures.Executor``; a ``dask.distributed.Client`` (an existing
  cluster); ``"dask"``: a temporary ``LocalCluster`` of ``workers`` processes.
  Functions travel with cloudpickle when it is installed (it comes with
  dask), so lambdas and notebook functions work.
* **Progress**: an ``ipywidgets`` bar in a notebook, a one-line text bar on
  stderr elsewhere (``progress=False`` to silence).
"""
from __future__ import annotations

import multiprocessing as mp
import inspect
import itertools
import os
import sys
import time
import traceback
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed

import numpy as np
import pandas as pd

from .errors import PextlabError

__all__ = ["sweep", "grid_points", "run_seed"]


def grid_points(grid) -> list[dict]:
    """The points of a grid: dict of lists -> cartesian product; list of dicts as is."""
    if isinstance(grid, dict):
        keys = list(grid)
        vals = []
        for k in keys:
            v = grid[k]
            if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
                v = [v]
            vals.append(list(v))
        return [dict(zip(keys, combo)) for combo in itertools.product(*vals)]
    if isinstance(grid, (list, tuple)):
        pts = list(grid)
        bad = [p for p in pts if not isinstance(p, dict)]
        if bad:
            raise PextlabError(f"a grid list holds dicts (one per point), got {type(bad[0]).__name__}")
        return [dict(p) for p in pts]
    raise PextlabError(f"grid must be a dict of name -> values or a list of dicts, "
                       f"got {type(grid).__name__}")


def run_seed(seed: int, run: int) -> int:
    """The seed of run ``run`` of a sweep seeded with ``seed`` (a 32-bit int)."""
    return int(np.random.SeedSequence([int(seed), int(run)]).generate_state(1)[0])


def _takes_seed(fn) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return "seed" in sig.parameters or any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())


def _dumps(fn):
    try:
        import cloudpickle
        return ("cloudpickle", cloudpickle.dumps(fn))
    except ImportError:
        return ("object", fn)


def _loads(payload):
    how, obj = payload
    if how == "cloudpickle":
        import cloudpickle
        return cloudpickle.loads(obj)
    return obj


def _call(payload, run: int, kwargs: dict):
    """Run one point (in a worker).  Never raises: returns (run, status, value, elapsed)."""
    t0 = time.perf_counter()
    try:
        fn = _loads(payload)
        out = fn(**kwargs)
        return run, "ok", out, time.perf_counter() - t0
    except BaseException as e:          # noqa: BLE001 -- a failing point becomes an error row
        tb = traceback.format_exc(limit=6)
        return run, "error", (f"{type(e).__name__}: {e}", tb), time.perf_counter() - t0


# --- progress -------------------------------------------------------------------------------------

def _in_notebook_kernel() -> bool:
    """True inside a Jupyter kernel (not merely when ipykernel was imported)."""
    if "IPython" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:                 # pragma: no cover
        return False
    ip = get_ipython()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


class _Progress:
    def __init__(self, total: int, enabled: bool, label: str = "sweep"):
        self.total, self.done, self.errors = total, 0, 0
        self.t0 = time.perf_counter()
        self.label = label
        self.widget = None
        self._last = 0.0
        self.enabled = enabled and total > 0
        if not self.enabled:
            return
        if _in_notebook_kernel():
            try:
                import ipywidgets as w
                from IPython.display import display
                self.bar = w.IntProgress(value=0, min=0, max=total, description=label)
                self.text = w.Label(value=f"0/{total}")
                self.widget = w.HBox([self.bar, self.text])
                display(self.widget)
            except Exception:            # noqa: BLE001 -- fall back to text
                self.widget = None
        self._draw()

    def update(self, ok: bool) -> None:
        self.done += 1
        self.errors += 0 if ok else 1
        now = time.perf_counter()
        if self.enabled and (self.widget is not None or now - self._last >= 0.25
                             or self.done == self.total):
            self._last = now
            self._draw()

    def _draw(self, final: bool = False) -> None:
        el = time.perf_counter() - self.t0
        rate = self.done / el * 60 if el > 0 and self.done else 0.0
        msg = (f"{self.done}/{self.total} runs, {self.errors} error(s), {el:.1f} s"
               + (f", {rate:.0f} runs/min" if self.done else ""))
        if self.widget is not None:
            self.bar.value = self.done
            self.text.value = msg
            if self.errors:
                self.bar.bar_style = "warning"
            elif final:
                self.bar.bar_style = "success"
            return
        n = 30
        fill = int(n * self.done / self.total) if self.total else n
        sys.stderr.write(f"\r{self.label} [{'#' * fill}{'.' * (n - fill)}] {msg}")
        if final:
            sys.stderr.write("\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw(final=True)


# --- executors ------------------------------------------------------------------------------------

def _is_dask_client(ex) -> bool:
    return type(ex).__name__ == "Client" and type(ex).__module__.startswith("distributed")


def _run_local(tasks, payload, executor, workers, prog, results):
    own = None
    if executor is None or executor == "process":
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
        own = executor = ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1,
                                             mp_context=ctx)
    try:
        futs = {executor.submit(_call, payload, run, kw): run for run, kw in tasks}
        for f in as_completed(futs):
            run = futs[f]
            try:
                res = f.result()
            except BaseException as e:   # noqa: BLE001 -- e.g. a worker process died
                res = (run, "error", (f"{type(e).__name__}: {e}", ""), float("nan"))
            results[run] = res
            prog.update(res[1] == "ok")
    finally:
        if own is not None:
            own.shutdown(wait=True, cancel_futures=True)


def _run_dask(tasks, payload, client, workers, prog, results):
    own_cluster = own_client = None
    if not _is_dask_client(client):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise PextlabError("executor='dask' needs dask.distributed "
                               "(pip install 'pextlab[sweep]')") from None
        own_cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                                   processes=True, dashboard_address=":0")
        own_client = client = Client(own_cluster)
    try:
        from distributed import as_completed as das_completed
        futs, runs = [], {}
        for run, kw in tasks:
            f = client.submit(_call, payload, run, kw, pure=False)
            futs.append(f)
            runs[f.key] = run
        for f in das_completed(futs):
            run = runs[f.key]
            try:
                res = f.result()
            except BaseException as e:   # noqa: BLE001 -- a worker died, a key was lost
                res = (run, "error", (f"{type(e).__name__}: {e}", ""), float("nan"))
            results[run] = res
            prog.update(res[1] == "ok")
    finally:
        if own_client is not None:
            own_client.close()
            own_cluster.close()


# --- sweep ----------------------------------------------------------------------------------------

def sweep(fn, grid, *, executor=None, workers: int | None = None, seed: int = 0,
          repeats: int = 1, progress: bool = True, label: str = "sweep") -> pd.DataFrame:
    """Run ``fn(**point)`` for every point of ``grid``; return one tidy DataFrame.

    Parameters
    ----------
    fn : callable
        Returns a dict/Series (one row), a DataFrame (several rows) or a scalar.
    grid : dict of name -> values, or list of dicts
    executor : None, "process", "serial", "dask", an Executor or a dask Client
    workers : int, optional
        Processes of the local pool or of the temporary LocalCluster.
    seed : int
        Base of the per-run seeds (used when the grid has no ``seed`` and
        ``fn`` accepts one).
    repeats : int
        Run every point this many times (each with its own run number and seed).
    progress : bool
        Show a progress bar.

    Returns
    -------
    DataFrame
        ``run``, the parameters, ``seed`` (when passed), the results, ``error``
        and ``elapsed_s``, ordered by run.
    """
    if not callable(fn):
        raise PextlabError(f"sweep needs a callable, got {type(fn).__name__}")
    if int(repeats) < 1:
        raise PextlabError("repeats must be >= 1")
    points = grid_points(grid)
    pass_seed = _takes_seed(fn)
    tasks = []
    for p in points:
        for _ in range(int(repeats)):
            run = len(tasks)
            kw = dict(p)
            if "seed" not in kw and pass_seed:
                kw["seed"] = run_seed(seed, run)
            tasks.append((run, kw))
    payload = _dumps(fn)
    results: dict[int, tuple] = {}
    prog = _Progress(len(tasks), progress, label)
    try:
        if executor == "serial":
            for run, kw in tasks:
                results[run] = _call(payload, run, kw)
                prog.update(results[run][1] == "ok")
        elif executor == "dask" or _is_dask_client(executor):
            _run_dask(tasks, payload, executor, workers, prog, results)
        elif executor is None or executor == "process" or isinstance(executor, Executor):
            _run_local(tasks, payload, executor, workers, prog, results)
        else:
            raise PextlabError(f"unknown executor {executor!r}: use None/'process', 'serial', "
                               f"'dask', a concurrent.futures Executor or a dask Client")
    finally:
        prog.close()
    return _frame(tasks, results)


def _frame(tasks, results) -> pd.DataFrame:
    rows = []
    param_cols: list[str] = []
    for run, kw in tasks:
        for k in kw:
            if k not in param_cols:
                param_cols.append(k)
    for run, kw in tasks:
        _, status, value, elapsed = results.get(run, (run, "error", ("lost: no result", ""), np.nan))
        base = {"run": run, **kw}
        if status != "ok":
            rows.append({**base, "error": value[0], "elapsed_s": elapsed})
            continue
        if isinstance(value, pd.DataFrame):
            recs = value.to_dict("records") or [{}]
        elif isinstance(value, pd.Series):
            recs = [value.to_dict()]
        elif isinstance(value, dict):
            recs = [value]
        else:
            recs = [{"value": value}]
        for r in recs:
            clash = [c for c in r if c in base]
            r = {(f"result_{c}" if c in clash else c): v for c, v in r.items()}
            rows.append({**base, **r, "error": None, "elapsed_s": elapsed})
    df = pd.DataFrame(rows)
    lead = ["run"] + param_cols
    tail = ["error", "elapsed_s"]
    mid = [c for c in df.columns if c not in lead and c not in tail]
    df = df[[c for c in lead if c in df.columns] + mid + tail]
    return df.reset_index(drop=True)


class _CallableModule(type(sys)):
    """``pextlab.sweep`` is this module once something imported it (``from pextlab.sweep import
    grid_points`` binds the submodule on the package): calling it runs :func:`sweep`."""

    def __call__(self, *args, **kwargs):
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
