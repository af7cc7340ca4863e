"""Turning accumulated page_owner columns into ``page_owner`` schema frames (private)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...schema import conform, empty
from ._columns import Columns
from .variants import MIGRATETYPE_NAMES_V3_19, V3_19_GFP_MOVABLE, V3_19_GFP_RECLAIMABLE

__all__ = ["Builder"]


def _cat(codes: np.ndarray, categories: list) -> pd.Categorical:
    """Categorical from codes into ``categories`` (deduplicated if needed)."""
    cats = pd.Index(categories, dtype=object)
    if cats.has_duplicates:
        uniq, inv = np.unique(np.asarray(categories, dtype=object), return_inverse=True)
        lut = np.append(inv, -1)
        return pd.Categorical.from_codes(lut[codes], categories=pd.Index(uniq, dtype=object))
    return pd.Categorical.from_codes(codes, categories=cats)


class Builder:
    """Turns accumulated columns into schema frames."""

    def __init__(self, *, pageblock_order, section_size_bits, sections_per_block, zone_names):
        self.pageblock_order = pageblock_order
        self.section_shift = section_size_bits - 12
        self.sections_per_block = sections_per_block
        self.cols = Columns(zone_names)
        self.block_mismatch = 0
        self.implied_order: int | None = None

    def frame(self) -> pd.DataFrame:
        c = self.cols
        a = c.take()
        n = len(a["pfn"])
        if n == 0:
            return empty("page_owner")
        P, R = a["prefix"], a["rest"]
        pl, rl = c.prefix_lut, c.rest_lut
        pfn = a["pfn"]
        order = pl.array("order")[P]
        mask = pl.array("mask")[P]
        pageblock = pfn >> self.pageblock_order
        block = rl.array("block")[R]
        bad = pageblock != block
        if bad.any():
            self.block_mismatch += int(bad.sum())
            i = int(np.flatnonzero(bad)[0])
            if block[i] > 0:
                ratio = int(pfn[i] // block[i])
                if ratio > 0 and ratio & (ratio - 1) == 0:
                    self.implied_order = ratio.bit_length() - 1

        mt = rl.array("mt")[R]
        pbmt = rl.array("pbmt")[R]
        mixed = mt != pbmt
        num = rl.array("num")[R]
        numeric = num >= 0
        if numeric.any():
            # v3.19 numeric line: the page's type comes from the mask (v3.19 bits)
            # where the kernel printed "Fallback"; else it equals the block's.
            fb = rl.array("fallback", bool)[R] & numeric
            names = MIGRATETYPE_NAMES_V3_19
            derived = (((mask & V3_19_GFP_MOVABLE) != 0).astype(np.int64) << 1) | \
                ((mask & V3_19_GFP_RECLAIMABLE) != 0)
            name_code = np.array([c.mt.code(x) for x in names[:4]], dtype=np.int64)
            mt = np.where(fb, name_code[derived], mt)
            mixed = np.where(numeric, fb, mixed)

        section = pfn >> self.section_shift
        S = a["stack"]
        sl = c.stack_lut
        free_ts = a["free_ts"]
        free_ts = np.where(free_ts == 0, -1, free_ts)
        df = pd.DataFrame({
            "pfn": pfn,
            "order": order.astype(np.int8),
            "nr_pages": np.left_shift(np.int64(1), order),
            "gfp_mask": mask,
            "gfp": _cat(pl.array("gfp")[P], c.gfp.values),
            "migratetype": _cat(mt, c.mt.values),
            "pageblock": pageblock,
            "pageblock_migratetype": _cat(pbmt, c.mt.values),
            "mixed": mixed.astype(bool),
            "node": rl.array("node", np.int16)[R],
            "zone": _cat(rl.array("zone")[R], c.zone.values),
            "section": section,
            "memory_block": section // self.sections_per_block,
            "stack_handle": S + 1,
            "stack": _cat(S, sl.cols["text"]),
            "top_frame": _cat(S, sl.cols["top"]),
            "pid": pl.array("pid", np.int32)[P],
            "tgid": pl.array("tgid", np.int32)[P],
            "comm": _cat(pl.array("comm")[P], c.comm.values),
            "ts_ns": a["ts"],
            "free_ts_ns": free_ts,
            "last_migrate_reason": _cat(c.extra_lut.array("reason")[a["extra"]], c.reason.values),
        }, copy=False)      # fresh arrays, one each: not copied into 2-D blocks (conform takes them as they are)
        return conform(df, "page_owner")
