'use strict';
// Prometheus metrics: the runtime's default metrics plus request count and latency. Labels are
// bounded on purpose: `route` is the matched route template, or "unmatched", never the raw
// path, so a scanner probing random URLs cannot grow the series without limit.

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
