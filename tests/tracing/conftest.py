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
    """The whole back end exporting spans (OTLP/HTTP protobuf) to a receiver of the test's own."""
    receiver = OtlpReceiver().start()
    try:
        stack = start_full_stack(
            Path(tmp_path_factory.mktemp("tracing")),
            # Two workers: /metrics must add up every worker's values (multiprocess mode).
            workers=2,
            call_api_env={"CALL_API_TRACE_EXPORTER": "otlp", "CALL_API_OTLP_ENDPOINT": receiver.url},
            # The standard variable alone switches the controller's export on.
            controller_env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url},
        )
    except BaseException:
        receiver.stop()
        raise
    yield TracedStack(stack, receiver)
    stack.stop()
    receiver.stop()
