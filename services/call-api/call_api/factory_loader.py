"""Load the orchestrator factory named by CALL_API_ORCHESTRATOR_FACTORY ("package.module:attribute")."""

import importlib
from typing import cast

from call_api.orchestrator.base import OrchestratorFactory


class FactoryLoadError(RuntimeError):
    pass


def load_factory(dotted_path: str) -> OrchestratorFactory:
    module_name, sep, attribute = dotted_path.partition(":")
    if not sep or not module_name or not attribute:
        raise FactoryLoadError(f"orchestrator factory must look like 'module:attribute', got {dotted_path!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise FactoryLoadError(f"cannot import orchestrator factory module {module_name!r}: {exc}") from exc
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise FactoryLoadError(f"{dotted_path!r} is not a callable orchestrator factory")
    return cast(OrchestratorFactory, factory)
