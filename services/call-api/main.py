"""The call-api as `main:app` (gunicorn -c gunicorn.conf.py main:app, from services/call-api)."""

from call_api.app import create_app

app = create_app()
