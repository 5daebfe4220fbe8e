# Chinese customer-service assistant. `make help` lists the targets.
SHELL := /bin/bash
APP_PY := .venvs/app/bin/python
RASA := .venvs/rasa/bin/rasa
export PYTHONPATH := $(CURDIR)
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

setup: ## Create/refresh both Python 3.10 virtual environments from the lock files
	@bash scripts/setup.sh

run: setup ## Set up, migrate+seed the CRM, train if needed, start everything; prints the chat URL
	@$(APP_PY) -m stack run

test: setup ## Run the whole test suite (unit, CRM on SQLite+PostgreSQL, rasa validate/stories, end-to-end)
	@$(APP_PY) -m pytest $(PYTEST_ARGS)

prepare: setup ## Migrate and seed the CRM database and train the model if needed, without starting services
	@$(APP_PY) -m stack prepare

migrate: setup ## Apply Alembic migrations to DATABASE_URL
	@$(APP_PY) -m crm.migrate

seed: setup ## Seed the demo tenant (no-op when already seeded)
	@$(APP_PY) -m crm.seed

tiers: setup ## Recompute every customer's tier and churn from policy/tiers.yml, recording each change
	@$(APP_PY) -m crm.tiers recompute

policy-check: setup ## Validate the policy files (policy/*.yml); problems are reported with file and line
	@$(APP_PY) -m crm.policy_check

train: setup ## Train the Rasa model if data/, domain.yml, config.yml or bot/ changed
	@$(APP_PY) -c 'from stack.model import ensure_model; print(ensure_model())'

validate: setup ## rasa data validate
	@$(RASA) data validate --fail-on-warnings

lint: setup ## ruff on the Python code, mypy on actions, api and crm ([tool.mypy] in pyproject.toml)
	@$(APP_PY) -m ruff check . && $(APP_PY) -m ruff format --check . && $(APP_PY) -m mypy

NLU_EVAL ?= tests/nlu/independent_test.jsonl tests/nlu/test_nlu.jsonl
CUSTOMERS ?= 20
TURNS ?= 12
bench: setup ## Benchmarks: NLU vs baselines, latency vs bare Rasa, training and edit-to-live times (bench/results/)
	@$(APP_PY) -m bench.run --eval $(NLU_EVAL) --customers $(CUSTOMERS) --turns $(TURNS) $(BENCH_ARGS)

conversations: setup ## Play tests/conversations/*.yml through a fresh stack: per-turn and per-conversation pass rates
	@$(APP_PY) -m tests.conversations.runner $(CONVERSATION_ARGS)

lock: ## Re-resolve requirements/*.in into the committed lock files
	@bash scripts/lock.sh rasa && bash scripts/lock.sh app

clean: ## Remove generated files (virtual environments are kept)
	rm -rf var models results .pytest_cache

.PHONY: help setup run test prepare migrate seed tiers policy-check train validate lint bench conversations lock clean
