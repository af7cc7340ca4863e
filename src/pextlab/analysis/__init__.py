"""Analyses of pextlab frames: pandas in, pandas out.

:mod:`.owners` finds leak suspects, top owners and snapshot differences in
``page_owner`` frames; :mod:`.page_owner_sort` is the kernel's
``tools/mm/page_owner_sort`` as a frame pipeline.  The ``pextlab sort``
command (:mod:`.sort_cli`) runs the same tool on a dump's text with the
standard-library engine :mod:`.sort_text` and the option grammar
:mod:`.sort_options`, so that it starts without numpy or pandas.

Imports allowed here: :mod:`pextlab.frames`, :mod:`pextlab.procfs`,
:mod:`pextlab.kernel`, :mod:`pextlab.schema`, :mod:`pextlab.errors`, numpy
and pandas -- never anything above (workloads, plot, the facades, lab, widgets).
"""
__all__: list[str] = []
