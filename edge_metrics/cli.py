"""`python -m edge_metrics`: read the settings, serve /metrics, poll until SIGTERM.

A setting it cannot use is one line on stderr naming the variable, exit code 2, before anything
starts; it never prints the token.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Mapping

from prometheus_client import start_http_server

from .api import RailwayApi
from .budget import Budget
from .metrics import ExporterMetrics
from .poller import Poller, stderr_line
from .settings import ConfigError, Settings
from .window import window_seconds

EXIT_CONFIG = 2
EXIT_LISTEN = 1


def main(environ: Mapping[str, str] | None = None) -> int:
    try:
        settings = Settings.from_env(os.environ if environ is None else environ)
    except ConfigError as error:
        stderr_line(str(error))
        return EXIT_CONFIG
    budget = Budget(settings.requests_per_hour)
    window = window_seconds(budget.interval)
    metrics = ExporterMetrics(list(settings.services), budget, window, time.time)
    try:
        server, _thread = start_http_server(settings.port, settings.listen_address, metrics.registry)
    except OSError as error:
        stderr_line(f"cannot serve metrics on [{settings.listen_address}]:{settings.port}: {error.strerror or error}")
        return EXIT_LISTEN
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    api = RailwayApi(settings.endpoint, settings.token)
    stderr_line(
        f"serving /metrics on port {settings.port}; reading {len(settings.services)} service(s) "
        f"({', '.join(settings.services)}) of environment {settings.environment_id} from {settings.endpoint} "
        f"every {budget.interval:g} s (budget {budget.requests_per_hour} requests an hour, one per poll), "
        f"window {window} s, {settings.token.kind} token"
    )
    try:
        Poller(settings, api, budget, metrics, window, time.time, stop.wait).run(stop.is_set)
    finally:
        api.close()
        server.shutdown()
        server.server_close()
    stderr_line("stopped")
    return 0
