# The compiled fast path's C entry points, for the compiled modules that cimport them
# (workloads/_replay.pyx, kernel/_compaction.pyx): kernel/_fastpath.pyx defines them, with every check the
# kernel does; its def functions convert their Python arguments and call these.
from ._mmzone cimport MemSection
from ._state cimport MMCore

cdef long c_alloc_pages_fast(MMCore mm, long gfp, long order, long nid) except? -2
cdef void c_free_pages(MMCore mm, long pfn, long order) except *
cdef MemSection c_free_pages_prepare(MMCore mm, long pfn, long order)
