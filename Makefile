# The commands behind the README. Each target installs what it needs first.
.PHONY: run test bootstrap bootstrap-test lock fresh-check lint typecheck schemas unit integration e2e package clean

VENV := .venv/bin
SAMPLES := samples/clean-scan.png samples/phone-photo.jpg samples/two-page-letter.pdf samples/receipt.tiff

bootstrap:
	@scripts/bootstrap.sh run

bootstrap-test:
	@scripts/bootstrap.sh test

## Re-resolve requirements.lock (and checkov's lock) after a dependency declaration changed.
lock:
	@scripts/lock.sh

## Rehearse the README on a fresh Debian root: clean clone, `make run`, `make test`.
fresh-check:
	@scripts/bootstrap.sh fresh-check
	@scripts/fresh-machine-check.sh

## Main job: process the sample documents through the whole local pipeline and show the counts.
run: bootstrap
	$(VENV)/ocrpipe process $(SAMPLES) --out out --email reader@example.com

## Everything CI checks: lint, types, generated schemas, packaged templates, all test layers.
test: bootstrap-test lint typecheck schemas package
	$(VENV)/pytest

lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

typecheck:
	$(VENV)/mypy shared services local

schemas:
	$(VENV)/python -m ocrpipe.schemas check docs

package:
	@scripts/package.sh

unit: bootstrap-test
	$(VENV)/pytest tests/unit tests/contract

integration: bootstrap-test
	$(VENV)/pytest -m integration

e2e: bootstrap-test
	$(VENV)/pytest -m e2e

clean:
	rm -rf .venv .ocrpipe out node_modules .mypy_cache .pytest_cache .ruff_cache
	find . -name .serverless -type d -prune -exec rm -rf {} +
