"""gunicorn settings of the call-api: `gunicorn -c gunicorn.conf.py main:app` from services/call-api.

Every value comes from the environment (CALL_API_*, see call_api/settings.py)."""

import multiprocessing
import os
import shutil
import tempfile

# Prometheus multiprocess mode (call_api/metrics.py): every worker writes its metric values under
# this directory and /metrics aggregates them. Set before anything imports prometheus_client (it
# reads the variable at import), one fresh directory per gunicorn instance, removed on exit.
_OWN_METRICS_DIR = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _OWN_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="call-api-metrics-")
else:  # given by the deployment: start from an empty directory (stale files would be counted)
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    for _stale in os.listdir(os.environ["PROMETHEUS_MULTIPROC_DIR"]):
        if _stale.endswith(".db"):
            os.remove(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], _stale))

from call_api.settings import Settings  # noqa: E402

_settings = Settings()

bind = _settings.bind
workers = int(os.environ.get("CALL_API_WORKERS") or os.environ.get("WEB_CONCURRENCY") or 0) or (
    2 * multiprocessing.cpu_count() + 1
)
# The spec names uvicorn.workers.UvicornWorker, deprecated in favour of the uvicorn-worker package's
# uvicorn_worker.UvicornWorker; CallApiWorker extends that one with the graceful drain of calls.
worker_class = "call_api.worker.CallApiWorker"
# SIGTERM → drain: calls get DRAIN_GRACE_SECONDS, then a few seconds to say call_ended and close.
graceful_timeout = int(_settings.drain_grace_seconds) + 10
timeout = 30
keepalive = 5
proc_name = "call-api"

# gunicorn's own logs (master and workers) as the same JSON lines as the app's.
_level = _settings.log_level.upper()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "voicebot_tracing.logs.JsonFormatter", "service": "call-api"}},
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    },
    "root": {"level": _level, "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": _level, "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": _level, "handlers": ["stderr"], "propagate": False},
    },
}


def child_exit(server: object, worker: object) -> None:
    """A worker is gone (exit, crash, restart): its live gauges (active calls) stop counting."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]


def on_exit(server: object) -> None:
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


# gunicorn's control socket defaults to one shared path ($HOME/.gunicorn/gunicorn.ctl) for every
# instance on the machine; we don't use gunicornc, so no instance claims it.
control_socket_disable = True


def post_fork(server: object, worker: object) -> None:
    """A worker dies with its master: a master killed with SIGKILL must not leave workers holding
    the port (the restarted master could never bind it)."""
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)

    from voicebot_tracing.heap import limit_arenas

    limit_arenas()  # before the worker's threads: fewer malloc arenas (docs/architecture.md, "Memory")
