from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.fullstack import FullStack, start_full_stack
from tests.tracing.otlp import OtlpReceiver


@dataclass
class TracedStack:
    stack: FullStack
    receiver: OtlpReceiver


@pytest.fixture(scope="package")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TracedStack]:
    """The whole back end exporting spans (OTLP/HTTP) to a receiver of the test's own."""
    receiver = OtlpReceiver().start()
    try:
        # The mediasoup service inherits the environment: the standard variable alone turns its
        # export on. The Python services are configured by their own settings below.
        with pytest.MonkeyPatch.context() as env:
            env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
            stack = start_full_stack(
                Path(tmp_path_factory.mktemp("tracing")),
                # Two workers: /metrics must add up every worker's values (multiprocess mode).
                workers=2,
                call_api_env={"CALL_API_TRACE_EXPORTER": "otlp", "CALL_API_OTLP_ENDPOINT": receiver.url},
                controller_env={
                    "MEDIA_CONTROLLER_TRACE_EXPORTER": "otlp",
                    "MEDIA_CONTROLLER_OTLP_ENDPOINT": receiver.url,
                },
            )
    except BaseException:
        receiver.stop()
        raise
    yield TracedStack(stack, receiver)
    stack.stop()
    receiver.stop()
