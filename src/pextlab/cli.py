"""The ``pextlab`` command.

    pextlab boot --mem 1G --cmdline "page_owner=on" [--nodes 2] [--profile v3.19]
                 [--memory-model flatmem] [--proc buddyinfo --proc zoneinfo] [--out DIR]
    pextlab boot --capture DIR            # simulate the machine a capture came from
    pextlab sort [page_owner_sort options] DUMP [OUTPUT]
    pextlab capture OUTDIR [--snapshot LABEL] [--no-page-owner] [--kpageflags]   # on a live machine, as root
    pextlab report CAPTURE [--snapshot LABEL] [--html OUT.html] [--top N]
    pextlab replay CAPTURE                # replay a capture's page_owner dump, compare with its /proc files
    pextlab compare CAPTURE [--snapshot LABEL] [--differences]   # the simulator booted from a capture vs the real machine
    pextlab exercise list | make NAME [--seed N] OUTDIR [--solution FILE] | check OUTDIR --comm ... | hint OUTDIR [--n N]
"""
# ``pextlab sort`` must start without numpy or pandas (its engine is standard library
# only): this is a fast-start module (tests/test_architecture.py FAST_START), so the
# commands that need pandas import the facades inside their functions.
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .analysis.sort_cli import main as sort_main
from .capture_tool import main as capture_main
from .errors import PextlabError

__all__ = ["main"]

PROC_CHOICES = ("buddyinfo", "pagetypeinfo", "zoneinfo", "unusable_index", "extfrag_index")


def _boot(argv) -> int:
    ap = argparse.ArgumentParser(prog="pextlab boot", description="Boot a simulated machine and "
                                 "print its kernel log (and /proc files on request).")
    ap.add_argument("--mem", default="1G", help="RAM size, e.g. 1G, 512M (default 1G)")
    ap.add_argument("--cmdline", default="", help='kernel command line, e.g. "page_owner=on"')
    ap.add_argument("--nodes", type=int, default=1, help="NUMA nodes (default 1)")
    ap.add_argument("--machine", default="pc", choices=("pc", "q35"))
    ap.add_argument("--profile", default="v6.12", help="kernel profile: v6.12 or v3.19")
    ap.add_argument("--memory-model", default="sparsemem", choices=("sparsemem", "flatmem"))
    ap.add_argument("--capture", metavar="DIR", help="boot with the layout and cmdline of a capture")
    ap.add_argument("--proc", action="append", default=[], choices=PROC_CHOICES,
                    help="also print this /proc file (repeatable)")
    ap.add_argument("--out", metavar="DIR", help="write dmesg and the --proc files into DIR")
    ap.add_argument("--quiet", action="store_true", help="do not print the boot log")
    a = ap.parse_args(argv)
    from .capture import read_capture
    from .machine import boot
    if a.capture:
        cap = read_capture(a.capture)
        cmdline = a.cmdline or cap.cmdline
        m = boot(layout=cap.layout, cmdline=cmdline, profile=a.profile,
                         memory_model=a.memory_model)
    else:
        m = boot(mem=a.mem, cmdline=a.cmdline, nodes=a.nodes, machine=a.machine,
                         profile=a.profile, memory_model=a.memory_model)
    files = {"dmesg": m.dmesg}
    for name in a.proc:
        files[name] = m.proc(name)
    if a.out:
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (out / f"{name}.txt").write_text(text)
    if not a.quiet:
        sys.stdout.write(files["dmesg"])
    for name in a.proc:
        if not a.out:
            sys.stdout.write(f"\n==> /proc/{name} <==\n" if name in ("buddyinfo", "pagetypeinfo", "zoneinfo")
                             else f"\n==> /sys/kernel/debug/extfrag/{name} <==\n")
            sys.stdout.write(files[name])
    return 0


def _replay(argv) -> int:
    ap = argparse.ArgumentParser(prog="pextlab replay", description="Replay a capture's page_owner "
                                 "dump in the simulator and compare with its /proc files.")
    ap.add_argument("capture")
    ap.add_argument("--snapshot")
    ap.add_argument("--all", action="store_true", help="show every row, not only differences")
    a = ap.parse_args(argv)
    import pandas as pd
    from .capture import read_capture
    from .replay import replay
    m = replay(read_capture(a.capture, snapshot=a.snapshot))
    rep = m.replay_report if a.all else m.replay_report[m.replay_report["diff"] != 0]
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(rep.to_string(index=False))
    print(f"placed {len(m.df_page_owner())} blocks; {len(m.replay_conflicts)} could not be placed; "
          f"{m.replay_unreserved} pages the simulator had reserved were allocated in the dump")
    return 0


def _compare(argv) -> int:
    ap = argparse.ArgumentParser(prog="pextlab compare", description="Boot the simulator from a "
                                 "capture and compare it with the real machine, figure by figure: "
                                 "real and simulated value, difference, verdict and why.")
    ap.add_argument("capture")
    ap.add_argument("--snapshot", help="compare the files of this snapshot label")
    ap.add_argument("--cmdline", help="boot the simulator with this command line instead of the capture's")
    ap.add_argument("--profile", default="v6.12", help="the simulator's kernel profile (default v6.12)")
    ap.add_argument("--differences", action="store_true", help="show only the rows that are not exact")
    a = ap.parse_args(argv)
    from .capture import read_capture
    from .fidelity import compare, format_compare
    cap = read_capture(a.capture, snapshot=a.snapshot)
    df = compare(cap, cmdline=a.cmdline, profile=a.profile)
    sys.stdout.write(format_compare(df, differences_only=a.differences))
    return 0


def _exercise(argv) -> int:
    ap = argparse.ArgumentParser(prog="pextlab exercise", description="Leak-hunting exercises: "
                                 "list them, make a hand-out folder, check an answer, get a hint.")
    sub = ap.add_subparsers(dest="verb", required=True)
    sub.add_parser("list", help="the exercises: name, level, skills, what they ask")
    mk = sub.add_parser("make", help="run an exercise and write its hand-out folder")
    mk.add_argument("name")
    mk.add_argument("outdir")
    mk.add_argument("--seed", type=int, default=0, help="the variant (default 0)")
    mk.add_argument("--solution", metavar="FILE", help="also write the instructor's solution (JSON)")
    ck = sub.add_parser("check", help="grade an answer against a hand-out folder")
    ck.add_argument("outdir")
    for flag, kind in (("comm", str), ("top-frame", str), ("stack", str), ("node", int),
                       ("order", int), ("pages", float), ("pages-per-s", float),
                       ("migrated-pages", float), ("leak", str)):
        ck.add_argument(f"--{flag}", type=kind, help=f"your answer's {flag.replace('-', '_')}")
    ht = sub.add_parser("hint", help="the hints of a hand-out, up to the n-th")
    ht.add_argument("outdir")
    ht.add_argument("--n", type=int, default=1, help="how many hints (default 1)")
    a = ap.parse_args(argv)
    from . import exercises as ex
    if a.verb == "list":
        import pandas as pd
        with pd.option_context("display.width", 200, "display.max_colwidth", 60):
            print(ex.catalogue()[["name", "level", "asks", "skills", "machine", "profile"]]
                  .to_string(index=False))
        return 0
    if a.verb == "make":
        e = ex.make(a.name, seed=a.seed, folder=a.outdir, solution=a.solution)
        print(f"{e.name} seed {e.seed} (level {e.level}): {e.files}\n{e.question}\n"
              f"asks: {', '.join(e.fields)}; dumps: {', '.join(e.snapshots)}")
        return 0
    e = ex.Exercise(a.outdir)
    if a.verb == "hint":
        for _ in range(max(1, a.n)):
            print(e.hint())
        return 0
    answer = {k: v for k, v in vars(a).items()
              if k not in ("verb", "outdir") and v is not None}
    r = e.check(**answer)
    print(r.feedback)
    print(r.verdicts.to_string(index=False))
    return 0 if r.ok else 1


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    try:
        if cmd == "boot":
            return _boot(rest)
        if cmd == "sort":
            return sort_main(rest)
        if cmd == "capture":
            return capture_main(rest)
        if cmd == "report":
            from .report import main as report_main
            return report_main(rest)
        if cmd == "replay":
            return _replay(rest)
        if cmd == "compare":
            return _compare(rest)
        if cmd == "exercise":
            return _exercise(rest)
    except PextlabError as e:
        print(f"pextlab {cmd}: {e}", file=sys.stderr)
        return 2
    print(f"pextlab: unknown command {cmd!r}; commands: boot, sort, capture, report, replay, compare, exercise",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
