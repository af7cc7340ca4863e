"""Generate notebooks/03-real-machine.ipynb (kept without outputs)."""
import nbformat as nbf

nb = nbf.v4.new_notebook()
md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
cells = [
    md("""# 03 · A real machine in the same frames

Everything the simulator shows also comes out of a **real** kernel's files, in the same
DataFrames. Here: a capture from a real Linux 6.12 kernel booted in qemu with `page_owner=on`
and a deliberately leaky program (`data/real-kernel/b-1G`, see its README).

A *capture* is a folder with one file per kernel file (`iomem`, `zoneinfo`, `buddyinfo`,
`pagetypeinfo`, `dmesg`, `cmdline`, `page_owner`, `page_owner_stacks_show_stacks`, ...), each
optionally `.txt` / `.gz` and optionally labelled with a snapshot (`buddyinfo.after_compact.txt`).
On your own machine, `sudo pextlab capture OUTDIR` collects exactly these files."""),
    code("""%matplotlib inline
import pandas as pd
import matplotlib.pyplot as plt
import pextlab
from pextlab.analysis.owners import top_owners, diff_snapshots, folded_stacks
from pextlab.analysis.page_owner_sort import page_owner_sort, render_page_owner_sort
from pextlab.plot import plot_buddyinfo, plot_pageblocks
pd.set_option("display.max_colwidth", 80)

cap = pextlab.read_capture("../data/real-kernel/b-1G")
print(cap.layout.describe())
print("cmdline:", cap.cmdline)
info = cap.dmesg_info
print("page_ext:", info.page_ext_bytes, "bytes; early allocated:", info.early_allocated)"""),
    md("""## Who owns the memory?

`df_page_owner()` parses `/sys/kernel/debug/page_owner` (every format variant since v3.19,
streamed) into one row per allocated block. Boot-time pages carry the dummy *early* stack
(`register_early_stack`), so a leak hunt sets them aside first."""),
    code("""df = cap.df_page_owner()
print(len(df), "blocks,", df.nr_pages.sum(), "pages")
df.head(3)"""),
    code("""late = df[~df["stack"].astype(str).str.startswith("register_early_stack")]
top_owners(late, by="comm", n=5)"""),
    code("""top_owners(late, by=["comm", "stack"], n=3)[["comm", "pages", "share", "cum_share"]]"""),
    md("""Two stacks of the program `leaky` hold almost all of it. The same answer as the kernel's
own `tools/mm/page_owner_sort --name leaky --cull=stacktrace` (20,003 and 5,000 pages:
three more pages of the same program share the first stack):"""),
    code("""res = page_owner_sort(df, cull=["stacktrace"], name=["leaky"])
print(render_page_owner_sort(res, cull=["stacktrace"], filters={"name": ["leaky"]})[:1500])"""),
    code("""leak = late[late.comm.astype(str) == "leaky"]
summary = leak.groupby(leak["stack"].astype(str), observed=True).agg(
    pages=("nr_pages", "sum"), pid=("pid", "first"), order=("order", "max"),
    gfp=("gfp", "first")).sort_values("pages", ascending=False).head(2)
for stack, row in summary.iterrows():
    print(f"{row.pages} pages, pid {row.pid}, order {row.order}, {row.gfp}")
    print("  " + "\\n  ".join(stack.splitlines()[-4:]))
assert sorted(summary.pages) == [5000, 20003]"""),
    md("""## Before and after compaction

The capture also has files taken after `echo 1 > /proc/sys/vm/compact_memory`
(`snapshot="after_compact"`). Compaction migrated movable pages — the leak's
anonymous pages among them — and page_owner kept their owners, adding
`last migrate reason: compaction`."""),
    code("""after = pextlab.read_capture("../data/real-kernel/b-1G", snapshot="after_compact")
dfa = after.df_page_owner()
print(dfa.last_migrate_reason.value_counts())
moved = dfa[dfa.last_migrate_reason.astype(str) == "compaction"]
print(moved.comm.astype(str).value_counts().head())"""),
    code("""diff_snapshots(df, dfa, by="comm").head(5)"""),
    code("""fig, axes = plt.subplots(1, 2, figsize=(12, 3.5), sharey=True)
plot_buddyinfo(cap.df_buddyinfo(), ax=axes[0]); axes[0].set_title("buddyinfo before compaction")
plot_buddyinfo(after.df_buddyinfo(), ax=axes[1]); axes[1].set_title("after compact_memory")
plt.tight_layout()"""),
    md("""## Replay: the simulator in the captured state

`pextlab.replay(cap)` boots the capture's layout and command line, places every block of the
dump at its pfn with its owner, takes pageblock types from the dump and pagetypeinfo, and
releases the rest to the buddy allocator. `replay_report` compares the result with the
captured /proc files."""),
    code("""m = pextlab.replay(cap)
rep = m.replay_report
rep[rep.what.str.startswith("free pages") | (rep["diff"] != 0)]"""),
    code("""both = pd.concat([cap.df_buddyinfo().assign(source="real"),
                  m.df_buddyinfo().assign(source="replayed")])
pivot = both[both.zone == "DMA32"].pivot_table(index="order", columns="source", values="nr_free",
                                                observed=True)
ax = pivot.plot.bar(figsize=(8, 3), logy=True, title="DMA32 free blocks per order: real vs replayed")
ax.set_ylabel("free blocks")"""),
    md("""The replayed machine is an ordinary simulated machine: every `df_*`, every analysis and the
kernel's text files work on it, and it can be driven further (allocate, free, hot-plug).

Small differences remain and are expected: the real kernel keeps some free pages on per-cpu
lists (not in buddyinfo), the files were read seconds apart, and the simulator's reserved
memory sits at slightly different pfns (the dump wins where they collide:
`m.replay_unreserved` pages)."""),
    code("""print(m.replay_unreserved, "pages the simulator had reserved were allocated in the dump")
print(m.proc("buddyinfo"))"""),
]
nb["cells"] = cells
nb["metadata"]["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nbf.write(nb, "notebooks/03-real-machine.ipynb")
