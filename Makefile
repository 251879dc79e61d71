# The desk's two commands: `make run` and `make test` (see README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_LOANS ?= 5000
# Seconds the web server, the worker and beat get to stop on Ctrl-C before what is left is killed.
STOP_GRACE ?= 6
# Processes `make test` runs the suite in (pytest-xdist): auto is one per core, 0 runs it in this one.
TEST_WORKERS ?= auto

.PHONY: run test install install-dev lint messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make run: install, migrate, seed a demo desk when the database is empty, then serve the web
## app with a Celery worker and beat on the embedded defaults. Ctrl-C (or SIGTERM) stops all of it:
## each gets SIGTERM, and whatever still runs STOP_GRACE seconds later is killed, so the stop takes
## at most a few seconds more than that. The worker runs one task at a time in its own process
## (--pool=solo): nothing to hang in a pool's shutdown, and SQLite takes one writer at a time anyway.
## A task killed mid-way is safe: the desk's tasks are idempotent and acknowledged late, each batch
## is one transaction, and the next run of the job redoes what was cut short.
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --if-empty --loans $(DEMO_LOANS)
	@echo ""
	@echo "Collection desk: http://$(HOST):$(PORT)/   admin: http://$(HOST):$(PORT)/admin/"
	@echo "Ctrl-C stops the web server, the worker and beat."
	@descendants() { for child in $$(pgrep -P "$$1" 2>/dev/null); do echo "$$child"; descendants "$$child"; done; }; \
	running() { for pid; do kill -0 "$$pid" 2>/dev/null && return 0; done; return 1; }; \
	stop() { \
		trap '' INT TERM HUP; \
		kill -TERM $$(descendants $$$$) $$ready $$worker $$beat $$web 2>/dev/null; \
		sleep $(STOP_GRACE) & grace=$$!; \
		while running $$grace && running $$worker $$beat $$web; do sleep 0.2; done; \
		kill -KILL $$(descendants $$$$) $$worker $$beat $$web 2>/dev/null; \
		wait; exit 0; \
	}; \
	trap stop INT TERM HUP; \
	(sleep 6; echo ""; echo "Ready: http://$(HOST):$(PORT)/ (logins above; Ctrl-C stops everything)") & ready=$$!; \
	$(BIN)/celery -A config worker --pool=solo --loglevel=INFO & worker=$$!; \
	$(BIN)/celery -A config beat --loglevel=INFO & beat=$$!; \
	$(BIN)/python manage.py runserver $(HOST):$(PORT) & web=$$!; \
	wait

## make test: install the dev dependencies and run the whole suite. PostgreSQL and Redis are
## used when DATABASE_URL and REDIS_URL are set; otherwise SQLite, skipping what needs them.
test: install-dev
	$(BIN)/pytest -n $(TEST_WORKERS)

lint: install-dev
	$(BIN)/ruff check .

messages: install-dev
	$(BIN)/python manage.py makemessages -l zh_Hans -l en --ignore=.venv --ignore=var
	$(BIN)/python manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
