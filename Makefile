# yrd-gateway: every set-up step lives here, so a fresh clone needs nothing else.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install demo test test-bench test-loaded check lint proto proto-check bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

# The main job: the four-province federation on SQLite with seeded catalogs, and a showcase.
demo: install
	$(VENV)/bin/yrdgw up --demo

# The timing-sensitive tests: the fault suite, federated search and the handshake across real
# nodes, node processes (yrdgw up included). `make test` runs them once, under a CPU hog on both
# cores (test-loaded), so a test that needs an idle machine fails here and not on a loaded box.
LOADED_TESTS := tests/faults tests/catalog/test_federated_search.py \
	tests/catalog/test_page_token_binding.py tests/peers/test_standard_handshake.py \
	tests/test_supervisor.py tests/cli/test_up.py
# The hog's bound, in case its runner is killed outright; it is stopped when the tests end.
LOAD_SECONDS ?= 900

# The test command (CI runs exactly this through .ci/run): lint and types, the main suite, the
# benchmark harness's smoke run (tests marked `bench`), then the timing-sensitive tests under load.
# Each pytest run lists its ten slowest steps: the suite's time is watched (it must stay well
# under 15 minutes in CI).
test: install
	bash scripts/install-system-deps.sh
	$(PY) scripts/gen_protos.py --check
	$(VENV)/bin/ruff check gateway yrdtools tests scripts
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(PY) -m pytest -q --durations=10 -m "not bench" $(addprefix --ignore=,$(LOADED_TESTS))
	$(MAKE) --no-print-directory test-bench test-loaded

# The benchmark harness end to end on a tiny federation (four node processes, every case).
test-bench: install
	$(PY) -m pytest -q -m bench tests/bench

test-loaded: install
	bash scripts/under-load.sh $(LOAD_SECONDS) $(PY) -m pytest -q --durations=10 $(LOADED_TESTS)

check: test

lint: install
	$(VENV)/bin/ruff check gateway yrdtools tests scripts
	$(VENV)/bin/ruff format --check gateway yrdtools tests scripts

# The benchmark harness (issue 6): four node processes at 131,000 entries each plus baselines.
bench: install
	$(PY) -m yrdtools.bench $(ARGS)

proto: install
	$(PY) scripts/gen_protos.py

proto-check: install
	$(PY) scripts/gen_protos.py --check

clean:
	rm -rf var .pytest_cache
