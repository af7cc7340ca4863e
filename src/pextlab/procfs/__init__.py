"""Kernel text formats, both ways: read a real machine's files, print the simulator's state.

One module per kernel file: :mod:`.buddyinfo`, :mod:`.pagetypeinfo`,
:mod:`.zoneinfo`, :mod:`.extfrag` (debugfs ``extfrag/*``), :mod:`.meminfo`,
:mod:`.vmstat`, :mod:`.iomem`, :mod:`.dmesg`, :mod:`.memory_blocks`
(``/sys/devices/system/memory``), :mod:`.stacks` (``page_owner_stacks``) and
:mod:`.trace` (ftrace ``trace``/``trace_pipe`` text of the kmem page events), the package
:mod:`.page_owner` (``/sys/kernel/debug/page_owner``, every
variant since v3.19) with its record grammar :mod:`.page_owner_grammar`.
Each ``read_*`` returns the frames of :mod:`pextlab.schema` (the same the
simulator's ``df_*`` build) and each ``format_*`` prints them back in the
kernel's exact format; :mod:`.writers` prints a simulated machine's files.
:mod:`.textio` opens plain or gzipped capture files, :mod:`._common` holds the
helpers the readers share.

Bad input -- a line out of the format, a damaged gzip stream, a number no
kernel prints (the bounds, and where each comes from, are in :mod:`.limits`)
-- raises :class:`pextlab.errors.ParseError` naming the file, the line and
what was expected; never another exception.

Imports allowed here: :mod:`pextlab.kernel`, :mod:`pextlab.errors`,
:mod:`pextlab.schema`, numpy and pandas -- never :mod:`pextlab.frames` or
anything above.  :mod:`.page_owner_grammar`, :mod:`.limits` and :mod:`.textio`
use the standard library only (``pextlab sort`` imports them without pandas).
"""
__all__: list[str] = []
