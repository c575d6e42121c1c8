.PHONY: run test lint bench
run:   ## the site, a worker and Redis, with embedded defaults
	./scripts/run.sh
test:  ## lint, migrations check and the whole test suite
	./scripts/test.sh
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
bench:
	./scripts/bench.sh
