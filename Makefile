# pextlab: the commands a new user types.  Everything installs from pyproject.toml into .venv.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: lab report test setup clean bench fuzz soak exercises

## the compiled core (src/pextlab/kernel/*.pyx, Cython) is built by pip: it needs a C
## compiler and the Python headers; as root with apt-get they are installed when missing
PYX := $(shell find src/pextlab -name "*.pyx")
$(STAMP): pyproject.toml setup.py $(PYX)
	@if ! { command -v cc >/dev/null 2>&1 && $(PY) -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; }; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	        echo "make setup: installing a C compiler and the Python headers for the compiled core"; \
	        export DEBIAN_FRONTEND=noninteractive; \
	        { apt-get update -qq && apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends gcc libc6-dev python3-dev >/dev/null; } \
	            || { echo "make setup: apt-get install gcc python3-dev failed" >&2; exit 1; }; \
	    else \
	        echo "make setup: the compiled core needs a C compiler (cc) and Python.h for $(PY): install gcc and python3-dev" >&2; exit 1; \
	    fi; \
	fi
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[lab,test]'
	touch $(STAMP)

setup: $(STAMP)

## make lab: set up and start JupyterLab on notebooks/
lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks

## make report: run every notebook headless into HTML under build/report/
report: $(STAMP)
	mkdir -p build/report
	$(BIN)/jupyter nbconvert --to html --execute --ExecutePreprocessor.timeout=600 \
	    --output-dir build/report notebooks/*.ipynb

## make test: set up and run every test (unit, property, notebooks under nbval, browser), one
## pytest-xdist worker per core (--dist loadfile: a file's tests, a notebook's cells, stay together)
## The browser test (tests/browser) drives JupyterLab in Debian's chromium.  When
## $(CHROMIUM) is missing and we run as root with apt-get (CI), it is installed here;
## if that install fails, make test fails.  Otherwise the browser tests skip with a reason.
CHROMIUM ?= /usr/bin/chromium
test: $(STAMP)
	@if [ ! -x $(CHROMIUM) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make test: installing Debian chromium for the browser test"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    { apt-get update -qq && apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends chromium fonts-dejavu-core >/dev/null; } \
	        || { echo "make test: apt-get install chromium failed" >&2; exit 1; }; \
	fi
	PEXTLAB_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest -q -rs -n auto --dist loadfile tests --nbval-lax notebooks --doctest-modules src/pextlab

## make fuzz: 100,000 damaged kernel files through every reader and command (tests/fuzz);
## prints a table per reader and fails on any uncaught exception, traceback or hang
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz --inputs 100000 --workers 2

## make soak: a million random operations (alloc/free, hotplug, hugetlb, compaction, raw gfp
## masks, workloads) over every simulator configuration, the kernel state's laws checked every
## 250 operations; prints a table per configuration and fails on any violation or error.
## Tens of minutes.  SOAK_OPS=... changes the budget (tests/test_soak.py runs a small one).
SOAK_OPS ?= 1000000
soak: $(STAMP)
	$(BIN)/python tools/soak.py --ops $(SOAK_OPS)

## make exercises: every leak-hunting exercise over 20 seeds (make test runs 3): the reference
## solver accepted, the naive one rejected above level 1, no answer in the clear
exercises: $(STAMP)
	PEXTLAB_EXERCISE_SEEDS=20 $(BIN)/python -m pytest -q tests/test_exercises.py

## make bench: every benchmark; first builds the kernel's own page_owner_sort into build/
## (tools/build_page_owner_sort.sh, from Debian's linux-source-6.12) so the sort and parsing rows
## run side by side with it -- if that build fails, those rows say the tool is missing
bench: $(STAMP)
	@[ -x build/page_owner_sort ] || tools/build_page_owner_sort.sh || echo "make bench: kernel page_owner_sort not built; its rows are skipped" >&2
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build $$(find src/pextlab -name "*.so" -o -name "_*.c")
