# The fields of kernel/_mmzone.pyx's MemSection and Zone, for the compiled modules that
# cimport them: they read and write them as C struct fields.
from libc.stdint cimport int64_t

from ._free_area cimport FreeArea

cdef class MemSection:
    cdef public long nr, start_pfn, nid, nr_present_pages
    cdef public tuple nids
    cdef public bint present, online, early
    cdef public bytearray flags, order, pageblock_mt
    cdef public object page_ext, pincount


cdef class Counters:
    cdef int64_t *v
    cdef Py_ssize_t n


cdef class Watermark:
    cdef int64_t v[4]      # WMARK_MIN, WMARK_LOW, WMARK_HIGH, WMARK_PROMO


cdef class Zone:
    cdef public long nid, idx
    cdef public str name
    cdef public long zone_start_pfn, spanned_pages, present_pages, present_early_pages
    cdef public long managed_pages, cma_pages, free_pages, nr_reserved_highatomic
    # Python: free_area, nr_free, free_mt, lowmem_reserve, watermark (properties)
    cdef FreeArea fa
    cdef Counters nrfree, freemt, lowmem
    cdef Watermark wmark
    cdef public object pcp


cdef inline MemSection section_at(list sections, Py_ssize_t nr):
    # mem_section[nr] of a pfn the caller knows is in the memory map (a block's, a
    # zone's): an absent section there is a bug, raised rather than read through
    sec = sections[nr]
    if sec is None:
        raise LookupError(f"memory section {nr} is not present")
    return <MemSection?>sec
