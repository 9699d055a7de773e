.PHONY: run test lint format
run:  ## set up, migrate, seed the demo practice if empty, start web + worker + beat
	@scripts/run.sh

test:  ## set up and run the whole suite on a real PostgreSQL 15 and Redis
	@scripts/test.sh

lint:
	uv run ruff check . && uv run ruff format --check .

format:
	uv run ruff check --fix . && uv run ruff format .
