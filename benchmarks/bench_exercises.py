"""Making one leak-hunting exercise, hand-out files included (issue 12: <= 5 s, target 1-2 s).

Each built-in exercise is made with seed 0 through the public API
(``pextlab.exercises.make``), as a student's notebook does: boot the machine,
run the scenario, write every dump's kernel files and exercise.json.  The time
of the first make (imports, catalogue loading) is reported apart.

    python benchmarks/bench_exercises.py
"""
import tempfile
import time


def main():
    t = time.perf_counter()
    from pextlab import exercises as ex
    names = list(ex.catalogue()["name"])
    ex.make(names[0], seed=0, folder=tempfile.mkdtemp())
    first = time.perf_counter() - t
    res = {}
    for name in names:
        t, c = time.perf_counter(), time.process_time()
        ex.make(name, seed=0, folder=tempfile.mkdtemp())
        res[name] = time.perf_counter() - t
        # CPU time too: on a shared machine the wall time includes waiting for a core
        print(f"make {name:24s} {res[name]:5.2f} s wall, {time.process_time() - c:5.2f} s CPU")
    worst = max(res.values())
    print(f"first make (imports included) {first:.2f} s; mean {sum(res.values()) / len(res):.2f} s, "
          f"worst {worst:.2f} s (target <= 5 s)")
    return res


if __name__ == "__main__":
    main()
