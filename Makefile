VENV ?= .venv
# Hydra overrides for the training targets, e.g. ARGS="ttr=10 trainer.max_epochs=5"
ARGS ?=
# The experiment's run folder (where `make train` reads the stages' metrics.json)
RUN_DIR ?= outputs/synthetic
# The checkpoint `make eval` evaluates
CKPT ?= $(RUN_DIR)/stage3/checkpoints/last.ckpt
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test lint train train-stage1 train-stage2 train-stage3 eval

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: install
	$(PYTHON) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

train-stage1 train-stage2 train-stage3: train-stage%: install
	$(PYTHON) -m dis_seg.train stage=$* $(ARGS)

train: install
	$(MAKE) --no-print-directory train-stage1 train-stage2 train-stage3
	$(PYTHON) -m dis_seg.summary $(RUN_DIR)

eval: install
	$(PYTHON) -m dis_seg.evaluate ckpt_path=$(CKPT) $(ARGS)
