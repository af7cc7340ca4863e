"""The ``pextlab sort`` command: ``tools/mm/page_owner_sort`` on a page_owner dump.

    pextlab sort [-a|-m|-n|-p|-P|-s|-t] [-d] [--pid L] [--tgid L] [--name L]
                 [--cull RULES] [--sort KEYS] [--workers N] <input> [output]

Options are spelled as the kernel tool's (:mod:`pextlab.analysis.sort_options`).
The work is done by the standard-library engine :func:`~pextlab.analysis.sort_text.sort_text`,
so the command starts without numpy or pandas.  Input that engine does not
take apart (:class:`~pextlab.analysis.sort_text.NotPlainDump`: bad or unusually
laid out) goes to the frame path, :func:`main_frames`, which reads it with
:func:`~pextlab.procfs.page_owner.read_page_owner` and either sorts it or names
the file, line and what was expected.  That path is the only one that
imports pandas, so its imports are inside :func:`main_frames`.

A plain (not gzipped) input of 32 MB or more is read by one process per core
(:mod:`pextlab.analysis.sort_parallel`); ``--workers N`` sets the number
(1: this process only).  The output does not depend on it.

Differences from the 6.12 C tool: the output file is optional (stdout by
default), the progress lines (``loaded N``, ``sorting ....``, ``culling``) go
to stderr, only when writing to a file, and ``--workers`` is ours.
"""
from __future__ import annotations

import getopt
import os
import sys

from ..errors import ParseError
from ..procfs.page_owner_grammar import PARALLEL_MIN_BYTES, default_workers
from .sort_options import FLAG_SORT, USAGE, SortArgumentError, explode, parse_cull, parse_num_list, parse_sort
from .sort_text import NotPlainDump, render_text, sort_text

__all__ = ["main", "main_frames"]

_LONG_OPTS = ["pid=", "tgid=", "name=", "cull=", "sort=", "workers=", "help"]


def _err(msg: str) -> None:
    sys.stderr.write(msg if msg.endswith("\n") else msg + "\n")


def main(argv=None) -> int:
    """``pextlab sort [OPTIONS] <input> [output]``: the page_owner_sort command line.

    Options are spelled as the kernel tool's (``-a -m -n -p -P -s -t -d``,
    ``--pid``, ``--tgid``, ``--name``, ``--cull``, ``--sort``; ``--opt=value``
    or ``--opt value``).  Returns the exit status: 0 on success, 1 for usage
    errors (the tool's messages) and unopenable files, 2 for unreadable input
    (truncated or garbage page_owner text, corrupt gzip).  Messages go to
    stderr, one line each (plus the usage text for usage errors); never a
    traceback for bad input.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        opts, args = getopt.gnu_getopt(argv, "admnpstPh", _LONG_OPTS)
    except getopt.GetoptError as e:
        _err(f"pextlab sort: {e}")
        _err(USAGE)
        return 1

    flags: list[str] = []
    debug = False
    workers = None
    kw: dict = {}
    try:
        for opt, val in opts:
            if opt in ("-h", "--help"):
                sys.stdout.write(USAGE)
                return 0
            if opt == "-d":
                debug = True
            elif opt[1:] in FLAG_SORT and len(opt) == 2:
                if opt[1] not in flags:
                    flags.append(opt[1])
            elif opt == "--pid":
                kw["pid"] = parse_num_list(val, "pid")
            elif opt == "--tgid":
                kw["tgid"] = parse_num_list(val, "tgid")
            elif opt == "--name":
                kw["name"] = explode(val)
            elif opt == "--cull":
                kw["cull"] = val
                parse_cull(val)
            elif opt == "--sort":
                kw["sort"] = val
                parse_sort(val)
            elif opt == "--workers":
                if not val.isdigit() or int(val) < 1:
                    raise SortArgumentError(f"pextlab sort: --workers wants a positive number, got {val!r}")
                workers = int(val)
    except SortArgumentError as e:
        _err(str(e))
        return 1

    if len(flags) > 1:
        _err(f"pextlab sort: only one of -a/-m/-n/-p/-P/-s/-t may be given (got "
             f"{' '.join('-' + f for f in flags)})")
        _err(USAGE)
        return 1
    if not 1 <= len(args) <= 2:
        _err("pextlab sort: expected <input> [output]")
        _err(USAGE)
        return 1
    if flags:
        kw["flag"] = flags[0]
    src, dst = args[0], (args[1] if len(args) == 2 else None)

    n = _plan_workers(src, workers)
    try:
        if n > 1:
            # multiprocessing costs more to import than a small dump takes to sort
            from .sort_parallel import sort_text_parallel
            result = sort_text_parallel(src, n, debug=debug, **kw)
        else:
            result = sort_text(src, debug=debug, **kw)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        _err(f"pextlab sort: cannot open {src}: {e.strerror}")
        return 1
    except NotPlainDump:
        return main_frames(src, dst, kw, debug, workers=workers)

    if dst is not None:
        sys.stderr.write(f"loaded {result.loaded}\nsorting ....\nculling\n")
    if debug:
        for c in ("pid", "tgid", "ts_ns"):
            if result.missing.get(c):
                _err(f"pextlab sort: {result.missing[c]} records without {c}")
    return _write(render_text(result), dst)


def _plan_workers(src, workers: int | None) -> int:
    """Processes for ``src``: ``workers``, or with None every core for a file of
    at least ``PARALLEL_MIN_BYTES``; 1 unless ``src`` is a plain (not gzipped) file."""
    if workers == 1 or not os.path.isfile(src):
        return 1
    with open(src, "rb") as fh:
        if fh.read(2) == b"\x1f\x8b":
            return 1
    if workers is not None:
        return workers
    return default_workers() if os.path.getsize(src) >= PARALLEL_MIN_BYTES else 1


def main_frames(src, dst, options: dict, debug: bool, workers: int | None = None) -> int:
    """The command's frame path: read ``src`` into a frame, sort, write ``dst``.

    ``options`` are :func:`~pextlab.analysis.page_owner_sort.page_owner_sort`'s
    keyword arguments; ``workers`` is :func:`~pextlab.procfs.page_owner.read_page_owner`'s.
    Returns the exit status as :func:`main`.
    """
    # The frame path needs pandas; importing it here keeps it off the command's
    # normal path (``pextlab sort`` must start without numpy or pandas).
    from ..procfs.page_owner import read_page_owner
    from .page_owner_sort import page_owner_sort, render_page_owner_sort

    try:
        df = read_page_owner(src, workers=workers)
    except ParseError as e:
        _err(f"pextlab sort: cannot parse page_owner input: {e}")
        return 2
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        _err(f"pextlab sort: cannot open {src}: {e.strerror}")
        return 1

    if dst is not None:
        sys.stderr.write(f"loaded {len(df)}\nsorting ....\nculling\n")
    if debug:
        for col in ("pid", "tgid", "ts_ns"):
            missing = int((df[col] < 0).sum())
            if missing:
                _err(f"pextlab sort: {missing} records without {col}")
    return _write(render_page_owner_sort(page_owner_sort(df, **options)), dst)


def _write(text: str, dst) -> int:
    """Write the output to ``dst`` (stdout when None); returns the exit status."""
    if dst is None:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            return 0
        return 0
    try:
        with open(dst, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as e:
        _err(f"pextlab sort: cannot write {dst}: {e.strerror}")
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
