"""The option grammar of ``tools/mm/page_owner_sort`` (6.12), standard library only.

Sort and cull keys with their aliases, the single-letter sort flags, the
allocator classes, the usage text and the argument parsers: one definition
shared by the frame pipeline (:mod:`pextlab.analysis.page_owner_sort`), the
text engine (:mod:`pextlab.analysis.sort_text`) and the command
(:mod:`pextlab.analysis.sort_cli`).  It imports nothing from pextlab, so that
``pextlab sort`` starts without numpy or pandas.
"""
from __future__ import annotations

__all__ = [
    "ALLOCATOR_CMA", "ALLOCATOR_SLAB", "ALLOCATOR_VMALLOC", "ALLOCATOR_OTHERS", "ALLOCATOR_NAMES",
    "allocator_names", "USAGE", "SORT_KEYS", "CULL_KEYS", "CULL_ORDER", "FLAG_SORT", "FLAG_ALIASES",
    "SortArgumentError", "explode", "parse_sort", "parse_cull", "parse_num_list", "resolve_sort",
]

#: The tool's allocator classes (bits; a block may be in several).
ALLOCATOR_CMA, ALLOCATOR_SLAB, ALLOCATOR_VMALLOC, ALLOCATOR_OTHERS = 1 << 1, 1 << 2, 1 << 3, 1 << 4
#: Bit -> name, in the order the tool prints them.
ALLOCATOR_NAMES = ((ALLOCATOR_CMA, "CMA"), (ALLOCATOR_SLAB, "SLAB"),
                   (ALLOCATOR_VMALLOC, "VMALLOC"), (ALLOCATOR_OTHERS, "OTHERS"))


def allocator_names(mask: int) -> str:
    """The names of the allocator bits in ``mask``, space separated.

    >>> allocator_names(ALLOCATOR_CMA | ALLOCATOR_VMALLOC)
    'CMA VMALLOC'
    """
    return " ".join(name for bit, name in ALLOCATOR_NAMES if mask & bit)


USAGE = (
    "Usage: pextlab sort [OPTIONS] <input> [output]\n"
    "-a\t\t\tSort by memory allocation time.\n"
    "-m\t\t\tSort by total memory.\n"
    "-n\t\t\tSort by task command name.\n"
    "-p\t\t\tSort by pid.\n"
    "-P\t\t\tSort by tgid.\n"
    "-s\t\t\tSort by the stacktrace.\n"
    "-t\t\t\tSort by number of times record is seen (default).\n"
    "\n"
    "--pid <pidlist>\t\tSelect by pid. This selects the information of\n"
    "\t\t\tblocks whose process ID numbers appear in <pidlist>.\n"
    "--tgid <tgidlist>\tSelect by tgid. This selects the information of\n"
    "\t\t\tblocks whose Thread Group ID numbers appear in <tgidlist>.\n"
    "--name <cmdlist>\tSelect by command name. This selects the information\n"
    "\t\t\tof blocks whose command name appears in <cmdlist>.\n"
    "--cull <rules>\t\tCull by user-defined rules. <rules> is a single\n"
    "\t\t\targument in the form of a comma-separated list with some\n"
    "\t\t\tcommon fields predefined (pid, tgid, comm, stacktrace, allocator)\n"
    "--sort <order>\t\tSpecify sort order as: [+|-]key[,[+|-]key[,...]]\n"
    "--workers <n>\t\tParse with n processes (default: one per core for a\n"
    "\t\t\tplain file of 32 MB or more; the output is the same).\n"
)

#: ``--sort`` key (and alias) -> result column.
SORT_KEYS = {
    "pid": "pid", "p": "pid",
    "tgid": "tgid", "tg": "tgid",
    "name": "comm", "n": "comm",
    "stacktrace": "stacktrace", "st": "stacktrace",
    "txt": "text", "T": "text",
    "alloc_ts": "ts_ns", "at": "ts_ns",
    "allocator": "allocator", "ator": "allocator",
    "times": "times", "num": "times",
    "pages": "pages", "page_num": "pages",
}
#: ``--cull`` rule (and alias) -> result column.
CULL_KEYS = {
    "pid": "pid", "p": "pid",
    "tgid": "tgid", "tg": "tgid",
    "name": "comm", "n": "comm", "comm": "comm",
    "stacktrace": "stacktrace", "st": "stacktrace",
    "allocator": "allocator", "ator": "allocator",
}
#: The order the tool compares cull keys in.
CULL_ORDER = ("stacktrace", "pid", "tgid", "comm", "allocator")
#: Single-letter sort flag -> (column, ascending).
FLAG_SORT = {
    "a": ("ts_ns", True), "m": ("pages", False), "n": ("comm", True), "p": ("pid", True),
    "P": ("tgid", True), "s": ("stacktrace", True), "t": ("times", False),
}
#: Long names accepted for the single-letter flags (``flag=`` of the Python API).
FLAG_ALIASES = {"alloc_ts": "a", "memory": "m", "name": "n", "pid": "p", "tgid": "P",
                "stacktrace": "s", "times": "t"}


class SortArgumentError(ValueError):
    """A bad ``--sort``/``--cull``/pid-list argument; ``str()`` is the tool's message."""


def explode(arg: str) -> list[str]:
    """The tool's ``explode(',', arg)``: comma-separated items, empty ones kept.

    >>> explode("a,,b")
    ['a', '', 'b']
    """
    return arg.split(",")


def parse_sort(spec) -> list[tuple[str, bool]]:
    """``[+|-]key[,...]`` -> ``[(column, ascending), ...]``.

    >>> parse_sort("-pid,at")
    [('pid', False), ('ts_ns', True)]
    """
    items = explode(spec) if isinstance(spec, str) else list(spec)
    original = spec if isinstance(spec, str) else ",".join(items)
    out = []
    for key in items:
        asc = True
        if key[:1] in "+-" and key:
            asc, key = key[0] == "+", key[1:]
        if key not in SORT_KEYS:
            raise SortArgumentError(f"wrong argument after --sort option:{original}")
        out.append((SORT_KEYS[key], asc))
    return out


def parse_cull(spec) -> tuple[str, ...]:
    """Cull rules -> canonical names in the tool's comparison order.

    >>> parse_cull("name,stacktrace")
    ('stacktrace', 'comm')
    """
    if spec is None:
        return ()
    items = explode(spec) if isinstance(spec, str) else list(spec)
    original = spec if isinstance(spec, str) else ",".join(items)
    chosen = set()
    for item in items:
        if item not in CULL_KEYS:
            raise SortArgumentError(f"wrong argument after --cull option:{original}")
        chosen.add(CULL_KEYS[item])
    return tuple(k for k in CULL_ORDER if k in chosen)


def parse_num_list(arg: str, what: str = "pid") -> list[int]:
    """A comma-separated list of decimal ids, as the tool's ``--pid``/``--tgid``.

    >>> parse_num_list("185,1")
    [185, 1]
    """
    out = []
    for item in explode(arg):
        s = item.lstrip(" \t\n\r\f\v")  # strtol skips leading white space
        try:
            if not s or s != s.strip() or "_" in s:
                raise ValueError
            out.append(int(s, 10))
        except ValueError:
            raise SortArgumentError(f"wrong/invalid {what} in from the command line:{arg}") from None
    return out


def resolve_sort(sort, flag) -> list[tuple[str, bool]]:
    """The sort keys of a run: ``--sort`` when given, else the single-letter ``flag``, else ``-t``.

    >>> resolve_sort(None, "m"), resolve_sort("pid", "m")
    ([('pages', False)], [('pid', True)])
    """
    if sort is not None and not (isinstance(sort, str) and sort == "") and len(sort) > 0:
        return parse_sort(sort)
    if flag is None:
        return [FLAG_SORT["t"]]
    letter = FLAG_ALIASES.get(flag, flag)
    if letter not in FLAG_SORT:
        raise ValueError(f"unknown sort flag {flag!r}; expected one of {sorted(FLAG_SORT)}")
    return [FLAG_SORT[letter]]
