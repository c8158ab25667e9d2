"""Railway's edge metrics for Prometheus: a small exporter service in a Railway stack.

Railway's proxy sees every request to a service with a public domain: its status code and how
long it took. The API answers `httpMetricsGroupedByStatus` and `httpDurationMetrics` per service;
this exporter reads them for the services in EDGE_SERVICES and shows them at /metrics, so the
edge error-ratio and latency alerts (components/monitoring/alerts.py) cover a service that exports
no metrics of its own.

Why it is built this way:
- Every API request counts against the account's hourly limit (Free: 100 for everything), so the
  exporter keeps to EDGE_REQUESTS_PER_HOUR: ONE request per poll for all services (query.py), a
  poll every 3600 / budget seconds, a ledger that refuses a request beyond the budget, and
  failures that wait longer, never shorter (budget.py).
- When Railway cannot be read it keeps showing the last good values and says how old they are
  (metrics.py), so an outage of the API is its own alert, not silence or false recoveries.
- Self-contained: the image holds only this package (Dockerfile); settings come from variables
  (settings.py), a bad one is one line and exit 2.

Modules: settings (variables), query (the request and its answer), api (one POST), budget
(when a request may go), window (which samples, what the gauges show), metrics (the registry),
poller (the loop), cli (`python -m edge_metrics`).
"""
