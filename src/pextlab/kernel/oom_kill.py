"""The OOM killer (mm/oom_kill.c, v6.12).

When the allocator's slow path has nothing left to try, ``out_of_memory`` picks the
task with the largest resident set (``oom_badness`` with every ``oom_score_adj`` 0 and
no page tables or swap counted separately: the rss pages), kills it and lets the
allocation retry.  The tasks it may choose are ``mm.oom_tasks`` (pid -> task object),
registered by whoever runs tasks on the machine (a workload run registers each of
its tasks); a task object has ``comm``, ``rss_pages()`` and ``oom_kill()``, which
frees every block the task holds (exit_mmap / the oom_reaper, through the normal free
path so page_owner records the frees) and returns the pages freed.  A killed task
leaves ``mm.oom_tasks``.

dmesg gets the kernel's lines (dump_header, dump_oom_victim, __oom_kill_process,
oom_reap_task_mm), the memory dump between them left out; vmstat counts ``oom_kill``.
The model's tasks map everything they allocate as anonymous or file memory of their
own, so the victim's rss is printed as anon-rss (file-rss and shmem-rss 0),
total-vm equals the rss, and pgtables 0.
"""
from __future__ import annotations

from .gfp import format_gfp
from .vmstat import count_vm_event

__all__ = ["select_bad_process", "out_of_memory", "oom_kill_process"]


def _pbl(ids) -> str:
    """%*pbl: a bitmap as a range list ("0", "0-1", "0,2-3")."""
    parts, i = [], 0
    while i < len(ids):
        j = i
        while j + 1 < len(ids) and ids[j + 1] == ids[j] + 1:
            j += 1
        parts.append(str(ids[i]) if i == j else f"{ids[i]}-{ids[j]}")
        i = j + 1
    return ",".join(parts)


def select_bad_process(mm):
    """mm/oom_kill.c select_bad_process: the task with the largest oom_badness
    (its rss pages); ties go to the task met first (the lowest pid here, as the task
    list is walked).  Tasks holding nothing are not eligible.  None if none is."""
    best, best_pages = None, 0
    for pid in sorted(mm.oom_tasks):
        t = mm.oom_tasks[pid]
        pages = t.rss_pages()
        if pages > best_pages:
            best, best_pages = (pid, t), pages
    return best


def oom_kill_process(mm, pid: int, task) -> int:
    """mm/oom_kill.c oom_kill_process -> __oom_kill_process, then the oom_reaper's
    oom_reap_task_mm: the victim is killed and its memory freed.  Returns pages freed."""
    kb = task.rss_pages() * 4
    mm.printk(f"oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed="
              f"{_pbl(sorted(mm.nodes))},global_oom,task_memcg=/,"
              f"task={task.comm},pid={pid},uid=0")
    mm.printk(f"Out of memory: Killed process {pid} ({task.comm}) total-vm:{kb}kB, "
              f"anon-rss:{kb}kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:0kB "
              f"oom_score_adj:0")
    count_vm_event(mm, "oom_kill")
    del mm.oom_tasks[pid]
    freed = task.oom_kill()
    mm.printk(f"oom_reaper: reaped process {pid} ({task.comm}), now anon-rss:0kB, "
              f"file-rss:0kB, shmem-rss:0kB")
    return freed


def out_of_memory(mm, gfp: int, order: int) -> int:
    """mm/oom_kill.c out_of_memory for a global OOM: dump_header's first line, select a
    victim, kill it.  Returns the victim's pid (the allocation may retry), or -1 when
    no task holds memory (the kernel panics, "Out of memory and no killable
    processes..."; the model logs that line and the allocation fails)."""
    mm.printk(f"{mm.comm} invoked oom-killer: gfp_mask={gfp:#x}({format_gfp(gfp, mm.profile)}), "
              f"order={order}, oom_score_adj=0")
    victim = select_bad_process(mm)
    if victim is None:
        mm.printk("Out of memory and no killable processes...")
        return -1
    pid, task = victim
    oom_kill_process(mm, pid, task)
    return pid
