"""page_owner_stacks/show_stacks reader and writer."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pextlab.errors import ParseError
from pextlab.procfs.stacks import format_show_stacks, read_show_stacks, write_show_stacks
from pextlab.schema import SCHEMAS, top_frame_of

DATA = Path(__file__).parents[1] / "data" / "real-kernel"
FOLDERS = ["b-1G", "f-numa2"]


def _entries(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.startswith(("nr_base_pages:", "stack_count:")))


@pytest.mark.parametrize("folder", FOLDERS)
def test_real_show_stacks(folder):
    path = DATA / folder / "page_owner_stacks_show_stacks.txt"
    text = path.read_text()
    df = read_show_stacks(path)
    assert list(df.columns) == list(SCHEMAS["stacks"])
    assert [str(t) for t in df.dtypes] == list(SCHEMAS["stacks"].values())
    assert len(df) == _entries(text)
    assert df.stack_handle.tolist() == list(range(1, len(df) + 1))
    assert df.attrs["count_field"] == "nr_base_pages"
    # totals: the sum of every printed count
    total = sum(int(l.split()[1]) for l in text.splitlines() if l.startswith("nr_base_pages:"))
    assert df.nr_base_pages.sum() == total
    assert (df.nr_base_pages >= 1).all()       # threshold 0 hides counts < 1
    assert (df.depth == df["stack"].astype(str).str.count("\n") + 1).all()
    assert df.depth.max() <= 16
    # the leak's two stacks are the two biggest
    big = df.nlargest(2, "nr_base_pages")
    assert big.depth.tolist() == [8, 12]
    assert big.nr_base_pages.iloc[0] >= 20000 and big.nr_base_pages.iloc[1] == 5000
    assert big.top_frame.tolist() == ["__handle_mm_fault", "__handle_mm_fault"]
    # the v6.9+ writer prints the file back byte for byte
    assert format_show_stacks(df) == text


@pytest.mark.parametrize("folder", FOLDERS)
def test_real_threshold_file(folder):
    full = read_show_stacks(DATA / folder / "page_owner_stacks_show_stacks.txt")
    tpath = DATA / folder / "page_owner_stacks_show_stacks.threshold1000.txt"
    thr = read_show_stacks(tpath)
    assert len(thr) == 2 and (thr.nr_base_pages >= 1000).all()
    assert format_show_stacks(thr, threshold=1000) == tpath.read_text()
    # same stacks, same order as the entries of the full file that pass the threshold
    # (the counts moved a little between the two captures)
    shown = full[full.nr_base_pages >= 1000]
    assert shown["stack"].astype(str).tolist() == thr["stack"].astype(str).tolist()
    assert format_show_stacks(full, threshold=1000).count("nr_base_pages:") == 2


def test_threshold_hides_small_and_non_positive():
    text = (" a+0x1/0x2\n b+0x1/0x2\nnr_base_pages: 5\n\n"
            " c+0x1/0x2\nnr_base_pages: 1\n\n"
            " d+0x1/0x2\nnr_base_pages: 2\n\n"
            " e+0x1/0x2\nnr_base_pages: 1000\n\n")
    df = read_show_stacks(text)
    # a frame (e.g. the simulator's) may hold stacks without pages: never printed
    df["nr_base_pages"] = np.array([5, 0, -3, 1000], dtype=np.int64)
    assert format_show_stacks(df) == (" a+0x1/0x2\n b+0x1/0x2\nnr_base_pages: 5\n\n"
                                      " e+0x1/0x2\nnr_base_pages: 1000\n\n")
    assert format_show_stacks(df, threshold=6) == " e+0x1/0x2\nnr_base_pages: 1000\n\n"
    assert format_show_stacks(df, threshold=1000) == " e+0x1/0x2\nnr_base_pages: 1000\n\n"
    assert format_show_stacks(df, threshold=1001) == ""
    buf = io.StringIO()
    write_show_stacks(df, buf, threshold=6)
    assert buf.getvalue() == " e+0x1/0x2\nnr_base_pages: 1000\n\n"


def test_stack_count_variant_6_9_rc1():
    df = read_show_stacks(" a+0x1/0x2\n get_page_from_freelist+0x1/0x2\nstack_count: 7\n\n")
    assert df.attrs["count_field"] == "stack_count"
    assert df.nr_base_pages.tolist() == [7] and df.depth.tolist() == [2]
    assert format_show_stacks(df) == " a+0x1/0x2\n get_page_from_freelist+0x1/0x2\nnr_base_pages: 7\n\n"


def test_v6_19_handles():
    show_handles = "handle: 42\nnr_base_pages: 20824\n\nhandle: 7\nnr_base_pages: 3\n\n"
    df = read_show_stacks(show_handles)
    assert df.stack_handle.tolist() == [42, 7]
    assert df.nr_base_pages.tolist() == [20824, 3] and df.depth.tolist() == [0, 0]
    stacks_handles = (" get_page_from_freelist+0x1/0x2\n kmalloc_large+0x10/0x20\nhandle: 42\n\n"
                      " alloc_pages_mpol+0x1/0x2\n foo+0x1/0x2\nhandle: 9\n\n")
    df = read_show_stacks(stacks_handles)
    assert df.stack_handle.tolist() == [42, 9]
    assert df.nr_base_pages.tolist() == [-1, -1]
    assert df.top_frame.tolist() == ["kmalloc_large", "foo"]


@pytest.mark.parametrize("text, line", [
    (" a+0x1/0x2\nnr_base_pages: 5\n\n b+0x1/0x2\n", 5),                  # truncated entry
    (" a+0x1/0x2\nnr_base_pages: 5\n\ngarbage\n", 4),                     # garbage line
    (" a+0x1/0x2\nnr_base_pages: five\n\n", 2),                           # bad count
    (" a+0x1/0x2\n\n", 2),                                                # no count
    (" a+0x1/0x2\nnr_base_pages: 5\n b+0x1/0x2\n\n", 3),                  # frame after count
    (" a+0x1/0x2\nnr_base_pages: 5\nnr_base_pages: 6\n\n", 3),            # two counts
])
def test_malformed(text, line):
    with pytest.raises(ParseError) as ei:
        read_show_stacks(text)
    assert ei.value.line == line
    assert ei.value.file == "<text>"


@pytest.mark.parametrize("text, line", [
    # mm/page_owner.c stack_print skips nr_base_pages < 1 and prints an int
    (" a+0x1/0x2\nnr_base_pages: 0\n\n", 2),
    (" a+0x1/0x2\nnr_base_pages: 5\n\n b+0x1/0x2\nnr_base_pages: -3\n\n", 5),
    (" a+0x1/0x2\nnr_base_pages: 2147483648\n\n", 2),
    (" a+0x1/0x2\nnr_base_pages: " + "9" * 5000 + "\n\n", 2),
    (" a+0x1/0x2\nhandle: 4294967296\nnr_base_pages: 1\n\n", 2),
    (" a+0x1/0x2\nhandle: 7\nnr_base_pages: 1\n\n b+0x1/0x2\nnr_base_pages: 1\n\n", 5),   # mixed handles
])
def test_numbers_the_kernel_cannot_print(text, line):
    with pytest.raises(ParseError) as ei:
        read_show_stacks(text)
    assert ei.value.line == line and ei.value.file == "<text>"


def test_handles_print_as_int():
    # stack_print: seq_printf("handle: %d", handle.handle) of a u32
    df = read_show_stacks(" a+0x1/0x2\nhandle: -2\nnr_base_pages: 3\n\n")
    assert df.stack_handle.tolist() == [(1 << 32) - 2]


def test_empty_file():
    df = read_show_stacks(io.StringIO(""))
    assert len(df) == 0 and list(df.columns) == list(SCHEMAS["stacks"])


_FRAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}\+0x[0-9a-f]{1,4}/0x[0-9a-f]{1,4}( \[[a-z]{1,5}\])?",
                       fullmatch=True)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.lists(_FRAME, min_size=1, max_size=16), st.integers(1, 2**31 - 1)),
                min_size=0, max_size=8),
       st.integers(0, 10**6))
def test_roundtrip_and_threshold(entries, threshold):
    text = "".join("".join(f" {f}\n" for f in frames) + f"nr_base_pages: {n}\n\n" for frames, n in entries)
    df = read_show_stacks(io.StringIO(text))
    assert len(df) == len(entries)
    assert df.nr_base_pages.tolist() == [n for _, n in entries]
    assert df.depth.tolist() == [len(f) for f, _ in entries]
    assert df["stack"].astype(str).tolist() == ["\n".join(f) for f, _ in entries]
    assert df.top_frame.astype(str).tolist() == [top_frame_of(f) for f, _ in entries]
    kept = [(f, n) for f, n in entries if n >= 1 and n >= threshold]
    out = format_show_stacks(df, threshold=threshold)
    assert out.count("nr_base_pages:") == len(kept)
    back = read_show_stacks(io.StringIO(out))
    assert back.nr_base_pages.tolist() == [n for _, n in kept]
    assert np.all(back.nr_base_pages.to_numpy() >= max(threshold, 1))
