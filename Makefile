# The project's commands. `make demo` (the main job) and `make test` both run setup first.
SHELL := /bin/bash
PY := .venv/bin/python
PYTEST := .venv/bin/pytest

.PHONY: setup test test-python test-node test-unit lint demo demo-sip test-sip-load up down logs bench chaos certs schema images test-images

setup:
	@scripts/setup.sh

test: setup
	@$(MAKE) --no-print-directory test-node
	@$(MAKE) --no-print-directory test-python

test-python:
	$(PYTEST)

test-node:
	@if [ -f services/mediasoup/package.json ]; then cd services/mediasoup && npm test --silent; fi

# The inner loop (well under a minute): the in-process tests of libs/ and services/ (no stack is
# started: tests needing Redis, gunicorn or the media stack are marked `stack` by conftest.py) and
# the Node tests that start no mediasoup worker.
test-unit:
	$(PYTEST) -q -m "not stack" libs services
	cd services/mediasoup && node --test test/validation.test.js test/config.test.js

LINT_PATHS := libs services tests tools bench infra conftest.py

lint: setup
	.venv/bin/ruff check $(LINT_PATHS)
	.venv/bin/ruff format --check $(LINT_PATHS)
	.venv/bin/mypy
	cd services/mediasoup && node_modules/.bin/tsc -p .

schema: setup
	$(PY) -m voicebot_protocol.schema docs/schema

demo: setup
	@scripts/demo.sh

# One real SIP call (SIPp, G.711 from a WAV, one DTMF digit) through the SIP gateway.
demo-sip: setup
	@scripts/demo-sip.sh

up: setup
	@scripts/stack.sh up

down:
	@scripts/stack.sh down

logs:
	@scripts/stack.sh logs

certs: setup
	@scripts/certs.sh

bench: setup
	$(PY) -m bench

test-sip-load: setup
	$(PYTEST) tests/sip/test_concurrent.py --sip-load

chaos: setup
	$(PYTEST) tests/chaos --chaos-full

# Container images (infra/images/build.sh: podman, vfs, chroot isolation; cached, idempotent).
images: setup
	@infra/images/build.sh

# Each built image started from its own files under chroot, health endpoint checked.
test-images: images
	VOICEBOT_TEST_IMAGES=1 $(PYTEST) tests/infra/test_images.py -q
