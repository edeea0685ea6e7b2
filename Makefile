PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow experiments clean

# constraints.txt pins the versions the golden programs and the experiments' figures were made
# with (a newer numpy, OpenBLAS or OR-Tools may break a tie another way); regenerate it with
# `.venv/bin/pip freeze --exclude-editable > constraints.txt` when upgrading on purpose
$(STAMP): pyproject.toml constraints.txt
	@command -v $(PY) >/dev/null 2>&1 || { echo "need $(PY) on PATH (or run: make PY=python3 ...)"; exit 2; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cimopt demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m slow

EXP := experiments/results

# every sweep table and picture of README.md and experiments/README.md, from the specs in
# experiments/sweeps/ (starts afresh; `cimopt sweep` alone resumes a folder it finds)
experiments: $(STAMP)
	rm -rf $(EXP)
	$(BIN)/cimopt sweep experiments/sweeps/heuristic_vs_exact.toml -o $(EXP)/heuristic_vs_exact --jobs 2
	$(BIN)/cimopt sweep experiments/sweeps/scaling.toml -o $(EXP)/scaling --jobs 2
	$(BIN)/cimopt plot compare $(EXP)/heuristic_vs_exact/results.csv -o docs/compare.png
	$(BIN)/cimopt plot scaling $(EXP)/scaling/results.csv -o docs/scaling.png
	$(BIN)/python experiments/program_figures.py docs $(EXP)
	$(BIN)/python experiments/sweep_tables.py experiments/README.md $(EXP)/heuristic_vs_exact/results.csv \
		$(EXP)/scaling/results.csv --compare heuristic_vs_exact

clean:
	rm -rf $(VENV) build *.egg-info
