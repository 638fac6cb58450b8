"""Marks the tests that start processes as `stack`, so `make test-unit` runs the rest
(`pytest -m "not stack"`) in seconds. A stack test lives under tests/ (the cross-service suites)
or uses a fixture that starts Redis, gunicorn or the media stack; a new such fixture goes here."""

import os
from pathlib import Path

import pytest
from voicebot_stack import credentials

# Auth is on in every test, as in production: the stacks the tests start admit this run's gateway
# key (clients send it from $VOICEBOT_GATEWAY_TOKEN), and an app a test builds in-process
# (Settings() from the environment) admits it too.
_creds = credentials.local()
for _name, _value in _creds.call_api_env().items():
    os.environ.setdefault(_name, _value)

CROSS_SERVICE_TESTS = Path(__file__).resolve().parent / "tests"
STACK_FIXTURES = frozenset(
    {
        "redis_server",  # services/call-api/tests/conftest.py
        "echo_api",
        "start_call_api",
        "own_redis",  # services/call-api/tests/test_cache.py
        "redis_for_app",  # services/call-api/tests/test_session_inprocess.py
        "stack",  # services/media-controller/tests/conftest.py
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        in_cross_service = item.path.resolve().is_relative_to(CROSS_SERVICE_TESTS)
        if in_cross_service or STACK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.stack)
