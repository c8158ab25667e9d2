'use strict';
// Prometheus metrics: the runtime's default metrics plus request count and latency, with the
// backend's names, labels and buckets (app/backend/src/metrics.js), so the generated alert rules
// and the Grafana dashboards read both services with one expression, by `job`. Labels are bounded:
// `route` is one of the server's fixed routes ("/api/*" for everything proxied), or "unmatched".
//
// A copy of the backend's module, not a shared one: each image is built from its own directory
// (`docker build app/frontend`), and a build context cannot reach a file outside itself; a shared
// npm package would need a registry or a file: dependency that breaks that build. The copy is kept
// honest by tests/app/test_frontend_metrics.py, which scrapes both real servers and compares.

const client = require('prom-client');

const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

const LABELS = ['method', 'route', 'status'];

const requests = new client.Counter({
  name: 'http_requests_total',
  help: 'HTTP requests answered, by method, route template and status code.',
  labelNames: LABELS,
  registers: [registry],
});

const duration = new client.Histogram({
  name: 'http_request_duration_seconds',
  help: 'Time to answer an HTTP request, by method, route template and status code.',
  labelNames: LABELS,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

// node's parser accepts only known methods, but keep the label set closed regardless.
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

function observe(method, route, status, seconds) {
  const labels = { method: METHODS.has(method) ? method : 'OTHER', route, status: String(status) };
  requests.inc(labels);
  duration.observe(labels, seconds);
}

module.exports = { registry, observe };
