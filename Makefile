# The project's commands. The README's two are `make run` and `make test`; `make help` lists all.
#
# Every target installs what it needs first, into the virtualenv .venv, from the hash-locked
# files in requirements/ (regenerated together by `make lock`):
#   pip.lock      the pip that installs the others, brought in first whatever pip the venv
#                 started with (Python 3.12.0/3.12.1 bundle pip 23.2.1, which rejects an extra
#                 of a transitive dependency in hash mode);
#   runtime.lock  what the running app needs: `make run`, `make worker`, production;
#   dev.lock      runtime + the test and lint tools: `make test`, `make lint`, CI.
# A lock is installed again only when it changes: a copy of each lock the venv was built from
# is kept in .venv as its stamp.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

# Python 3.12 (Django 6.1 needs it). pyenv resolves python3.12 through .python-version; elsewhere
# a python3.12 on PATH does, or a python3 that is 3.12 (checked before the venv is made).
PYTHON ?= $(shell command -v python3.12 2>/dev/null || echo python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP_LOCK := requirements/pip.lock
RUNTIME_LOCK := requirements/runtime.lock
DEV_LOCK := requirements/dev.lock
PIP_STAMP := $(VENV)/.installed-pip.lock
RUNTIME_STAMP := $(VENV)/.installed-runtime.lock
DEV_STAMP := $(VENV)/.installed-dev.lock
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check --require-hashes

# `make run` serves here; tests override it with a free port.
RUN_ADDR ?= 127.0.0.1:8000
# The local run's SQLite file; settings default to var/db.sqlite3 (git-ignored). A value given
# on make's command line or in the environment reaches manage.py as SQLITE_PATH.
SQLITE_DIR := $(dir $(or $(SQLITE_PATH),var/db.sqlite3))
# The local run is a development server: settings refuse DEBUG off without a secret key.
LOCAL := DJANGO_DEBUG=true

# `make test` runs against real PostgreSQL and Redis; both can be overridden from the
# environment or make's command line. pytest-django creates and drops test_<name>.
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/cycles
REDIS_URL ?= redis://127.0.0.1:6379/0
PYTEST_ARGS ?=

# Only `make lock` needs uv.
UV ?= uv

.PHONY: help install install-dev run demo-db serve test lint migrations-check lock worker beat

help:  ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

install: $(RUNTIME_STAMP)  ## Make .venv with what the app needs to run (skipped when current).

install-dev: $(DEV_STAMP)  ## Make .venv with the app and the test and lint tools.

$(PY):
	@command -v "$(PYTHON)" >/dev/null || { \
	  echo "Python 3.12 is needed and '$(PYTHON)' is not on PATH: install Python 3.12" \
	       "(pyenv install 3.12, or your system's python3.12 and python3.12-venv packages)," \
	       "or name it: make PYTHON=/path/to/python3.12 ..." >&2; exit 1; }
	@"$(PYTHON)" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' || { \
	  echo "$(PYTHON) is Python $$("$(PYTHON)" -c 'import platform; print(platform.python_version())'):" \
	       "Django 6.1 needs 3.12. Install it, or name it: make PYTHON=/path/to/python3.12 ..." >&2; \
	  exit 1; }
	"$(PYTHON)" -m venv $(VENV)

# $(call install_lock,LOCK,STAMP): install LOCK unless STAMP is a copy of it already.
define install_lock
@if cmp -s $(1) $(2); then \
  touch $(2); \
else \
  echo "Installing $(1) into $(VENV) ..."; \
  $(PIP_INSTALL) -r $(1); \
  cp $(1) $(2); \
fi
endef

# Only pip, to the pinned and hash-checked version, before any lock is read.
$(PIP_STAMP): $(PIP_LOCK) | $(PY)
	@$(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' || { \
	  echo "$(VENV) was made with another Python than 3.12: remove it (rm -rf $(VENV)) and retry." >&2; \
	  exit 1; }
	$(call install_lock,$(PIP_LOCK),$@)

$(RUNTIME_STAMP): $(RUNTIME_LOCK) $(PIP_STAMP)
	$(call install_lock,$(RUNTIME_LOCK),$@)

# The dev lock holds the runtime lock's pins (tests/test_locks.py), so it stamps both.
$(DEV_STAMP): $(DEV_LOCK) $(RUNTIME_LOCK) $(PIP_STAMP)
	$(call install_lock,$(DEV_LOCK),$@)
	@cp $(RUNTIME_LOCK) $(RUNTIME_STAMP)

# `run` and `serve` share this recipe, so tests/test_first_command.py (demo-db, then serve)
# runs what `make run` runs.
define RUNSERVER
@echo "Serving at http://$(RUN_ADDR)/ (demo logins: see above or the README). Ctrl-C stops."
$(LOCAL) $(PY) manage.py runserver $(RUN_ADDR)
endef

run: demo-db  ## README's first command: install, migrate + seed the SQLite demo, serve on :8000.
	$(RUNSERVER)

demo-db: install  ## Migrate the local SQLite database and seed the demo practice (idempotent).
	@mkdir -p "$(SQLITE_DIR)"
	$(LOCAL) $(PY) manage.py migrate --noinput
	$(LOCAL) $(PY) manage.py seed_demo

serve: install  ## Serve the local database as it is (no migrate, no seed).
	$(RUNSERVER)

test: install-dev  ## README's second command: apt packages, PostgreSQL + Redis up, the whole suite.
	@DATABASE_URL='$(DATABASE_URL)' REDIS_URL='$(REDIS_URL)' bash .ci/ensure-services
	@DJANGO_DEBUG=true DATABASE_URL='$(DATABASE_URL)' REDIS_URL='$(REDIS_URL)' \
	  $(VENV)/bin/pytest $(PYTEST_ARGS) || { \
	  status=$$?; \
	  if [ "$$status" -eq 5 ]; then echo "pytest collected no tests: that is a failure here." >&2; fi; \
	  exit "$$status"; }

lint: install-dev  ## ruff check and ruff format --check.
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

migrations-check: install  ## Fail when a model change has no migration.
	@mkdir -p "$(SQLITE_DIR)"
	$(LOCAL) $(PY) manage.py makemigrations --check --dry-run

# The three locks from pyproject.toml, universal for Python 3.12; the versions already locked are
# kept unless pyproject.toml asks for others (uv prefers the output file's pins).
UV_COMPILE = "$(UV)" pip compile --generate-hashes --python-version 3.12 --universal --quiet

lock:  ## Regenerate requirements/*.lock from pyproject.toml (needs uv; UV=/path/to/uv).
	@command -v "$(UV)" >/dev/null || { \
	  echo "uv is not on PATH: install it (pipx install uv, or pip install uv), or name it:" \
	       "make lock UV=/path/to/uv" >&2; \
	  exit 1; }
	$(UV_COMPILE) --group installer -o $(PIP_LOCK)
	$(UV_COMPILE) pyproject.toml -o $(RUNTIME_LOCK)
	$(UV_COMPILE) pyproject.toml --group dev -o $(DEV_LOCK)

# Production runs one or more workers and exactly one beat, with the deployment's environment
# (DJANGO_SECRET_KEY, DATABASE_URL, REDIS_URL, ...). Without REDIS_URL tasks run in-process and
# a worker has nothing to do.
worker: install  ## Run a Celery worker (needs REDIS_URL).
	$(VENV)/bin/celery -A config worker --loglevel INFO

beat: install  ## Run the Celery beat scheduler: exactly one per deployment (needs REDIS_URL).
	@mkdir -p var
	$(VENV)/bin/celery -A config beat --loglevel INFO --schedule var/celerybeat-schedule
