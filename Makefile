# Two commands do everything: `make run` (set up, train the default experiment) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test eval compare experiments lint format sweep tensorboard bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/aelab-train $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist worksteal $(ARGS)  # two workers

eval: $(STAMP)
	$(BIN)/aelab-eval $(ARGS)

compare: $(STAMP)
	$(BIN)/aelab-compare $(ARGS)

# Every documented table and figure, regenerated into README.md and docs/ (ARGS="--only NAME",
# ARGS="--quick" for smoke scale with the docs untouched).
experiments: $(STAMP)
	$(BIN)/aelab-experiments $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts

format: $(STAMP)
	$(BIN)/ruff format src tests scripts
	$(BIN)/ruff check --fix src tests scripts

sweep: $(STAMP)
	$(BIN)/aelab-train -m model=linear,mlp compression.ratio=0.02,0.05,0.1 $(ARGS)

tensorboard: $(STAMP)
	$(BIN)/tensorboard --logdir outputs

bench: $(STAMP)
	$(BIN)/python scripts/bench_overhead.py
	$(BIN)/python scripts/bench_startup.py
	$(BIN)/python scripts/bench_linear_convergence.py
	$(BIN)/python scripts/bench_dem.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
