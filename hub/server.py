"""The WSGI application factory gunicorn loads in each worker (``hub.server:wsgi_app()``)."""

from __future__ import annotations

import logging

from hub.api.app import Services, create_app
from hub.settings import load
from hub.soap.endpoint import Router


def wsgi_app() -> Router:
    """Build the hub for this worker process: settings, database engine, image store, services."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(name)s %(message)s")
    # Spyne logs every fault with its traceback at ERROR; the hub logs refusals itself, once.
    logging.getLogger("spyne").setLevel(logging.CRITICAL)
    return create_app(Services.build(load()))
