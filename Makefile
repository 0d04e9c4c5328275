# Two commands for a fresh clone:
#   make demo   set up .venv and score the bundled sample completions with `verify`
#   make test   set up .venv and run the whole test suite (what CI runs)
#   make test-fast   the same without the tests marked slow (training runs, DDP, long sandbox runs)
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
EXTRAS  ?= train,dev,serve,trl,ray

.PHONY: setup demo test test-fast lint grpo-demo clean

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU wheel first: an unpinned torch can pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[$(EXTRAS)]"
	touch $@

setup: $(BIN)/.installed

demo: setup
	mkdir -p out
	$(BIN)/verify fixtures/samples/math_completions.jsonl --reward "0.1*format + math" -o out/scored.jsonl
	@echo "scored records written to out/scored.jsonl"

test: setup
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

lint: setup
	$(BIN)/ruff check verifiers sandboxes grpo tests benchmarks

grpo-demo: setup
	$(BIN)/grpo demo

clean:
	rm -rf $(VENV) out .pytest_cache
