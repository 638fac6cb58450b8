"""Liveness and readiness probes."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter()


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    """Liveness: the worker's event loop answers."""
    return JSONResponse({"status": "ok", "instance": request.app.state.settings.instance})


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Readiness: 503 while draining. A dead Redis only degrades the service, so it stays ready."""
    state = request.app.state
    redis_ok = await state.cache.ping()
    draining = state.registry.draining
    body = {
        "status": "draining" if draining else "ready",
        "draining": draining,
        "redis_degraded": not redis_ok,
        "active_calls": state.registry.active_calls,
        "instance": state.settings.instance,
    }
    return JSONResponse(body, status_code=503 if draining else 200)
