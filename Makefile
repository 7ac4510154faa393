VENV ?= .venv
# Hydra overrides for the training targets, e.g. ARGS="ttr=10 trainer.max_epochs=5"
ARGS ?=
# The experiment's run folder (where eval, sweep and predict find the stages' checkpoints)
RUN_DIR ?= outputs/synthetic
# The checkpoint `make eval` evaluates and `make diagnose` diagnoses
CKPT ?= $(RUN_DIR)/stage3/checkpoints/last.ckpt
PYTHON := $(VENV)/bin/python
# The dis-seg commands (pyproject.toml [project.scripts]), installed by `make install`
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-fast lint train train-stage1 train-stage2 train-stage3 eval diagnose sweep report
.PHONY: predict
.PHONY: gpu-check gpu-wheels

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The whole suite, notebooks included (CI: .ci/run); `make test-fast` leaves out the tests
# marked slow (entry points in subprocesses, the wheel, DDP, torch.compile, the notebooks).
# TEST_WORKERS: pytest-xdist processes, each a test module at a time (auto: one per core, at
# most 8; 0: the tests in this one process).
TEST_WORKERS ?= auto
PYTEST := $(PYTHON) -m pytest -n $(TEST_WORKERS) --maxprocesses 8 --dist loadscope
test: install
	$(PYTEST)

test-fast: install
	$(PYTEST) -m "not slow"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

train-stage1 train-stage2 train-stage3: train-stage%: install
	$(BIN)/dis-seg-train stage=$* $(ARGS)

train: install
	$(BIN)/dis-seg-pipeline $(ARGS)

eval: install
	$(BIN)/dis-seg-eval ckpt_path=$(CKPT) $(ARGS)

# Why iterative inference helps or hurts CKPT (docs/RESULTS.md): energy of the truth against the
# prediction, the pixels the steps change, per-class IoU and tag cleaning, on the val split by
# default; report.md and plots in outputs/diagnose/<time>/, e.g. make diagnose ARGS="tts=10"
diagnose: install
	$(BIN)/dis-seg-diagnose ckpt_path=$(CKPT) $(ARGS)

# Sweeps (docs/SWEEPS.md). `make sweep`: one stage-3 model per SWEEP_TTR, all from the stage-2
# checkpoint of RUN_DIR and each tested with SWEEP_TMAX steps (which fills its whole row of the
# table), then the model of ttr=SWEEP_TMAX evaluated at each SWEEP_TTS into
# SWEEP_DIR/eval/<its job folder's name>; then the report. SWEEP_CKPT: by default the last.ckpt
# of each ttr=SWEEP_TMAX job of that training, from the same overrides (dis-seg-sweeps).
# ARGS go to both entry points (seed, data.*, paths.*, trainer.*), TRAIN_ARGS
# to train only (also sweeps such as seed=0,1,2).
SWEEP_DIR ?= $(RUN_DIR)/sweep
SWEEP_TTR ?= 0,10,30
SWEEP_TTS ?= 0,10,30
comma := ,
# the most test-time steps of the sweep: the last of SWEEP_TTS
SWEEP_TMAX = $(lastword $(subst $(comma), ,$(SWEEP_TTS)))
SWEEP_CKPT ?=
TRAIN_ARGS ?=
SWEEP_TRAIN_ARGS = hydra.sweep.dir=$(SWEEP_DIR)/train $(ARGS) $(TRAIN_ARGS)
STAGE2_CKPT = $(RUN_DIR)/stage2/checkpoints/last.ckpt
# `make predict`: labelmaps of the images in INPUT_DIR, by CKPT with TTS steps (default: the
# config's tts), into PREDICT_DIR
# (ARGS=overwrite=true replaces those of an earlier `make predict` there)
INPUT_DIR ?= data/synthetic/VOC2012/JPEGImages
PREDICT_DIR ?= $(RUN_DIR)/predictions
TTS ?=

$(STAGE2_CKPT):
	@echo "$@ does not exist: sweeps start from stage 2, run \`make train-stage1 train-stage2\` first" >&2
	@exit 1

sweep: install $(STAGE2_CKPT)
	$(BIN)/dis-seg-train -m stage=3 ttr=$(SWEEP_TTR) tts=$(SWEEP_TMAX) $(SWEEP_TRAIN_ARGS)
	ckpts="$(or $(SWEEP_CKPT),$$($(BIN)/dis-seg-sweeps stage=3 ttr=$(SWEEP_TMAX) \
		tts=$(SWEEP_TMAX) $(SWEEP_TRAIN_ARGS)))" && for ckpt in $$ckpts; do \
		job=$${ckpt%/checkpoints/*}; $(BIN)/dis-seg-eval -m ckpt_path=$$ckpt \
			tts=$(SWEEP_TTS) hydra.sweep.dir=$(SWEEP_DIR)/eval/$${job##*/} $(ARGS) || exit; \
	done
	$(MAKE) --no-print-directory report

report: install
	$(BIN)/dis-seg-report $(SWEEP_DIR)

# `make compare` (docs/RESULTS.md): DIS against its baselines trained as long, on COMPARE_SEEDS
# data seeds (a Hydra multirun of dis-seg-compare: COMPARE_ARGS=hydra/launcher=slurm on a
# cluster), then the table with paired-bootstrap intervals and the plot in COMPARE_DIR.
# COMPARE_TRAIN: overrides of every training run, e.g. COMPARE_TRAIN="trainer=gpu data.batch_size=32".
COMPARE_SEEDS ?= 0,1,2
COMPARE_DIR ?= outputs/compare
COMPARE_ARGS ?=
COMPARE_TRAIN ?=
COMPARE_TRAIN_LIST = $(subst $(eval) ,$(comma),$(foreach o,$(COMPARE_TRAIN),"$(o)"))
.PHONY: compare
compare: install
	$(BIN)/dis-seg-compare -m data_seed=$(COMPARE_SEEDS) arm=supervised,stage1,stage3 \
		compare_dir=$(COMPARE_DIR) $(if $(COMPARE_TRAIN),'train=[$(COMPARE_TRAIN_LIST)]') $(COMPARE_ARGS)
	$(BIN)/dis-seg-report --compare $(COMPARE_DIR)

predict: install
	$(BIN)/dis-seg-predict ckpt_path=$(CKPT) input_dir=$(INPUT_DIR) \
		output_dir=$(PREDICT_DIR) $(if $(TTS),tts=$(TTS)) overlays=true tags_json=true $(ARGS)

# Inspect a prepared data set without training (docs/DATA.md), e.g.
# make check-data ARGS="data=voc_idw paths.voc_root=/data/VOC2012 paths.idw_root=/data/IDW"
.PHONY: check-data
check-data: install
	$(BIN)/dis-seg-check-data $(ARGS)

# Benchmarks: DIS against torchvision's DeepLabV3 on this machine (CUDA when available) →
# benchmarks/results/ and docs/BENCHMARKS.md; BENCH_ARGS="--quick" for one repetition of each,
# BENCH_ARGS="--groups voc-shape --update" to measure some groups again and keep the others.
BENCH_ARGS ?=
.PHONY: bench

bench: install
	$(PYTHON) benchmarks/bench.py $(BENCH_ARGS)

# GPU checks in one command (docs/BENCHMARKS.md): the CUDA tests, the essential benchmark groups,
# the synthetic pipeline with trainer=gpu and the kernels of a step, then the table of GPU
# targets. Runs with this
# checkout's .venv, or without `make install` with the machine's own python3 and
# GPU_CHECK_ARGS="--wheels .whl" (the wheels of `make gpu-wheels`); results in
# benchmarks/results/gpu-check/ (or --out DIR).
GPU_PYTHON ?= $(if $(wildcard $(PYTHON)),$(PYTHON),python3)
GPU_CHECK_ARGS ?=
# The GPU machine's Python version and where its wheels go.
GPU_PYTHON_VERSION ?= 3.12
WHEELS ?= .whl

gpu-check:
	$(GPU_PYTHON) benchmarks/gpu_check.py $(GPU_CHECK_ARGS)

gpu-wheels:
	python3 -m pip download --quiet --no-deps --only-binary=:all: --implementation cp \
		--python-version $(GPU_PYTHON_VERSION) --platform manylinux_2_28_x86_64 \
		--platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
		-d $(WHEELS) -r benchmarks/gpu_wheels.txt
	python3 -m pip wheel --quiet --no-deps -w $(WHEELS) antlr4-python3-runtime==4.9.3
