# pextlab: the commands a new user types.  Everything installs from pyproject.toml into .venv.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: lab report test setup clean bench

$(STAMP): pyproject.toml
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

## make test: set up and run every test (unit, property, notebooks under nbval)
test: $(STAMP)
	$(BIN)/python -m pytest -q tests --nbval-lax notebooks

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build
