# One-command set-up: `make run` opens the explorer, `make test` runs the tests; both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup run test bench screenshot screenshot-study clean

setup: $(VENV)/.installed

# Exact known-good versions come from constraints.txt; pyproject.toml keeps the ranges.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install -c constraints.txt -e ".[dev]"
	touch $@

run: setup
	$(BIN)/python -m explorer

test: setup
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python bench/accuracy.py
	$(BIN)/python bench/train_throughput.py
	$(BIN)/python bench/drag_latency.py
	$(BIN)/python bench/startup.py

# docs/screenshot.png and docs/selection.png: the embedded run at 1280x720 (a laptop screen), rendered offscreen in
# the default layout (--screenshot neither reads nor saves the layout a user left);
# the run is named by its relative path so the status bar shows no folder of this machine
screenshot: setup
	$(BIN)/python -m explorer assets/default_run --screenshot docs/screenshot.png --size 1280x720
	$(BIN)/python -m explorer assets/default_run --select style:1,1,3.5,3.5 --screenshot docs/selection.png --size 1280x720

# docs/study_compare.png: a study folder (default runs/study, made by `train_cli.py study --out runs/study`) compared
# at 1280x720, point #7 selected and swapped; it waits for every cell's UMAP maps (cached after the first time)
STUDY ?= runs/study
screenshot-study: setup
	$(BIN)/python -m explorer $(STUDY) --find '#7' --screenshot docs/study_compare.png --size 1280x720

clean:
	rm -rf $(VENV) .pytest_cache
