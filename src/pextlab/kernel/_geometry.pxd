# The fields of kernel/_geometry.pyx's Geometry, for the compiled modules that cimport it.
cdef class Geometry:
    cdef readonly list sections, section_zone
    cdef readonly dict nodes
    cdef readonly long shift, mask, max_section_pfn, nr_orders, max_order, pageblock_order
    cdef readonly long mt_cma

    cdef object zone_of(self, long pfn)
    cdef long nid_of(self, long pfn) except? -2
