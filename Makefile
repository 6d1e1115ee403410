# Two commands: `make run` serves the platform, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

LOCK := requirements/dev.lock
# pip-tools, in a venv of its own: `make lock` must not change what it is locking.
LOCK_TOOLS := .venv-lock

.PHONY: run test lint format bench clean install lock
install: $(STAMP)

# Exact versions with hashes (requirements/*.lock), so a fresh machine installs what CI tested;
# pyproject.toml keeps the ranges for people who install the package into their own environment.
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

# Refresh the locks after changing a dependency in pyproject.toml (the newest versions in range).
lock:
	@test -x $(LOCK_TOOLS)/bin/pip-compile || ($(PYTHON) -m venv $(LOCK_TOOLS) && \
		$(LOCK_TOOLS)/bin/pip install --quiet pip-tools)
	$(LOCK_TOOLS)/bin/pip-compile --quiet --upgrade --generate-hashes --strip-extras --no-emit-index-url \
		--no-emit-find-links --extra dev -o requirements/dev.lock pyproject.toml
	$(LOCK_TOOLS)/bin/pip-compile --quiet --upgrade --generate-hashes --strip-extras --no-emit-index-url \
		--no-emit-find-links -o requirements/base.lock pyproject.toml

run: $(STAMP)
	@$(PY) -m tuleap_backend.run

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	$(PY) -m bench.notifications

clean:
	rm -rf $(VENV) $(LOCK_TOOLS) var .pytest_cache .ruff_cache
