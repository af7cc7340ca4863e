"""Run every benchmark script in this folder and print their numbers."""
import pathlib
import runpy

here = pathlib.Path(__file__).parent
for p in sorted(here.glob("bench_*.py")):
    print(f"== {p.name}")
    runpy.run_path(str(p), run_name="__main__")
