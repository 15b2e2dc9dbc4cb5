# ulmlite: `make demo` and `make test` work from a fresh clone (they create .venv first).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEPS := $(VENV)/.deps-installed
BUILT := $(VENV)/.extension-built
PYTEST_ARGS ?=

# No GPU to ask on a build machine: compile for Ampere (sm_80) and Hopper (sm_90), with PTX for
# GPUs after them (their driver compiles it).
export TORCH_CUDA_ARCH_LIST ?= 8.0;9.0+PTX

.PHONY: all demo lesson gpu-check test build rebuild bench bench-quick study lint format figures clean

all: test

$(DEPS): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements.txt
	touch $@

# Builds ulmlite._C (C++ always; CUDA when nvcc is found or ULMLITE_CUDA=1) into ulmlite/.
$(BUILT): $(DEPS) setup.py $(wildcard csrc/*)
	$(PY) -m pip install --no-build-isolation --no-deps -v -e . 2>&1 | grep -E "nvcc|g\+\+|c\+\+|ulmlite:|Successfully|rror" | cut -c1-3000; \
	  $(PY) -c "import ulmlite, sys; sys.exit(0 if ulmlite.extension_available() else 'ulmlite._C did not build')"
	touch $@

build: $(BUILT)

rebuild:
	rm -f $(BUILT)
	$(MAKE) build

# DEMO_ARGS, e.g. --pretrained-from runs/lesson (start from the lesson's IMDB language models).
DEMO_ARGS ?=
demo: build
	$(PY) -m ulmlite.demo $(DEMO_ARGS)

# The lesson on IMDB (resumable: run it again after a kill); LESSON_ARGS, e.g. --train-docs 6000.
LESSON_ARGS ?=
lesson: build
	$(PY) -m ulmlite.lesson $(LESSON_ARGS)

# pytest's exit code 5 means it collected no test: for us that is a failure, said plainly.
test: build
	$(PY) -m pytest --hypothesis-show-statistics $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests (exit 5): failing"; fi; \
	  exit $$rc

# On a machine with a GPU: the CUDA path proven (op tests on CUDA, compute-sanitizer, CUDA graphs,
# the benchmarks on the device); without one it says so and fails.
gpu-check: build
	$(PY) tests/gpu_check.py

bench: build
	for script in benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

bench-quick: build
	for script in benchmarks/bench_*.py; do $(PY) $$script --quick || exit 1; done

study: build
	$(PY) benchmarks/study_ablations.py

lint: $(DEPS)
	$(VENV)/bin/ruff check ulmlite tests benchmarks docs setup.py
	$(VENV)/bin/mypy ulmlite

# The docs' figures (docs/figures/*.png), drawn from the code and benchmarks/results/: no build, no training.
figures: $(DEPS)
	$(PY) docs/figures.py

format: $(DEPS)
	$(VENV)/bin/ruff format ulmlite tests benchmarks setup.py

clean:
	rm -rf build *.egg-info ulmlite/_C*.so $(BUILT)
