# The two commands (see README.md):
#   make run    set up and run the monitor: embedded OpenSearch, demo data, web UI on :8080
#   make test   set up and run the whole test suite, lint and type checks
.PHONY: run test lint bench clean

run:
	./scripts/setup.sh run
	.venv/bin/bluelamp run

test:
	./scripts/setup.sh test
	$(MAKE) --no-print-directory lint
	.venv/bin/python -m pytest

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

bench:
	./scripts/setup.sh test
	.venv/bin/python -m bench

clean:
	-.venv/bin/bluelamp engine stop
	rm -rf var
