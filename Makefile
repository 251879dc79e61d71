# The desk's two commands: `make run` and `make test` (see README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_LOANS ?= 5000

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
## app with a Celery worker and beat on the embedded defaults. Ctrl-C stops all of it.
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --if-empty --loans $(DEMO_LOANS)
	@echo ""
	@echo "Collection desk: http://$(HOST):$(PORT)/   admin: http://$(HOST):$(PORT)/admin/"
	@echo "Ctrl-C stops the web server, the worker and beat."
	@trap 'kill 0' INT TERM; \
	(sleep 6; echo ""; echo "Ready: http://$(HOST):$(PORT)/ (logins above; Ctrl-C stops everything)") & \
	$(BIN)/celery -A config worker --loglevel=INFO --concurrency=2 & \
	$(BIN)/celery -A config beat --loglevel=INFO & \
	$(BIN)/python manage.py runserver $(HOST):$(PORT) & \
	wait

## make test: install the dev dependencies and run the whole suite. PostgreSQL and Redis are
## used when DATABASE_URL and REDIS_URL are set; otherwise SQLite, skipping what needs them.
test: install-dev
	$(BIN)/pytest

lint: install-dev
	$(BIN)/ruff check .

messages: install-dev
	$(BIN)/python manage.py makemessages -l zh_Hans -l en --ignore=.venv --ignore=var
	$(BIN)/python manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
