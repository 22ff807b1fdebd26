"""The WSGI application factory gunicorn loads in each worker (``hub.server:wsgi_app()``)."""

from __future__ import annotations

import logging

from hub import logs
from hub.api.app import Services, create_app
from hub.console.app import PREFIX, Console
from hub.settings import load
from hub.soap.endpoint import Router


def wsgi_app() -> Router:
    """Build the hub for this worker process: settings, database engine, image store, services, and
    the web console under /console."""
    settings = load()
    logs.configure(settings.log_format)
    # Spyne logs every fault with its traceback at ERROR; the hub logs refusals itself, once.
    logging.getLogger("spyne").setLevel(logging.CRITICAL)
    return compose(Services.build(settings))


def compose(services: Services) -> Router:
    """The SOAP services and, under /console, the administrators' web console beside them."""
    app = create_app(services)
    app.mount(PREFIX, Console(services))
    return app
