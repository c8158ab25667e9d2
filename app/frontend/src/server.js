'use strict';
// MVS frontend: `node src/server.js`. One dependency, prom-client (pinned, package-lock.json).
//
// Serves the page in public/ and proxies /api and /api/* to the backend, so the browser talks
// to one origin (no CORS) and the backend need not be published. GET /health answers 200 when
// this server is up; it does not ask the backend, so a backend outage shows as the backend's
// unhealthy container, not as two. GET /metrics is Prometheus's (src/metrics.js): every request
// is counted and timed under its route, one of a fixed few, so the monitoring's `up` and HTTP
// rules and dashboards read the frontend as they read the backend.
//
// Environment: PORT (default 8080), BACKEND_URL (default http://backend:3000, the backend's
// name on the dev stack's network), PROXY_TIMEOUT_SECONDS (default 15),
// LOG_LEVEL (debug|info|warn|error, default info).

const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const metrics = require('./metrics');

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 };
const logThreshold = LEVELS[(process.env.LOG_LEVEL || 'info').toLowerCase()] || LEVELS.info;
const SHUTDOWN_GRACE_MS = 5000;

function log(level, msg, fields) {
  if (LEVELS[level] < logThreshold) return;
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }) + '\n');
}

// A fixed set of files read once at start: nothing a request names can reach the filesystem.
const PUBLIC_DIR = path.join(__dirname, '..', 'public');
const STATIC_FILES = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
};
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'self'; frame-ancestors 'none'",
};

// Headers that describe one hop, not the message: never forwarded by a proxy (RFC 9110 7.6.1).
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function endToEnd(headers) {
  const named = new Set(
    String(headers.connection || '')
      .split(',')
      .map((name) => name.trim().toLowerCase()),
  );
  const out = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!HOP_BY_HOP.has(name) && !named.has(name)) out[name] = value;
  }
  return out;
}

function sendJson(res, status, body) {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
  });
  res.end(payload);
}

function loadStatic() {
  const files = {};
  for (const [route, [name, type]] of Object.entries(STATIC_FILES)) {
    files[route] = { body: fs.readFileSync(path.join(PUBLIC_DIR, name)), type };
  }
  return files;
}

function sendMetrics(req, res) {
  metrics.registry.metrics().then(
    (body) => {
      res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    },
    (err) => {
      log('error', 'metrics collection failed', { error: err.message });
      sendJson(res, 500, { error: 'internal error' });
    },
  );
}

function createProxy(backendUrl, timeoutMs) {
  const target = new URL(backendUrl);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new Error(`BACKEND_URL must be an http(s) URL, got ${target.protocol}`);
  }
  const transport = target.protocol === 'https:' ? https : http;
  const agent = new transport.Agent({ keepAlive: true, maxSockets: 64 });
  const basePath = target.pathname.replace(/\/$/, '');

  function proxy(req, res) {
    const headers = endToEnd(req.headers);
    headers.host = target.host;
    headers['x-forwarded-for'] = [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', ');
    headers['x-forwarded-proto'] = req.headers['x-forwarded-proto'] || 'http';
    if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;

    const upstream = transport.request({
      protocol: target.protocol,
      hostname: target.hostname,
      port: target.port,
      method: req.method,
      path: basePath + req.url,
      headers,
      agent,
      timeout: timeoutMs,
    });
    upstream.on('timeout', () => upstream.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    upstream.on('response', (answer) => {
      res.writeHead(answer.statusCode, endToEnd(answer.headers));
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    upstream.on('error', (err) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const timedOut = err.code === 'ETIMEDOUT';
      log('warn', 'backend request failed', { code: err.code || 'error' });
      sendJson(res, timedOut ? 504 : 502, { error: timedOut ? 'backend timed out' : 'backend unavailable' });
    });
    // The browser went away: stop the backend request too.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }
  return { proxy, agent };
}

// The route label of metrics and logs: a fixed set, whatever the client asks for.
function routeOf(pathname) {
  if (pathname === '/api' || pathname.startsWith('/api/')) return '/api/*';
  if (pathname === '/health') return '/health';
  if (pathname === '/metrics') return '/metrics';
  if (Object.prototype.hasOwnProperty.call(STATIC_FILES, pathname)) return pathname;
  return 'unmatched';
}

function main() {
  const port = Number(process.env.PORT || 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`frontend: PORT must be a port number, got ${JSON.stringify(process.env.PORT)}`);
    process.exit(2);
  }
  const backendUrl = process.env.BACKEND_URL || 'http://backend:3000';
  const timeoutMs = 1000 * (Number(process.env.PROXY_TIMEOUT_SECONDS) || 15);
  let proxy;
  let agent;
  try {
    ({ proxy, agent } = createProxy(backendUrl, timeoutMs));
  } catch (err) {
    console.error(`frontend: ${err.message}`);
    process.exit(2);
  }
  const files = loadStatic();

  let stopping = false;
  const inFlight = new Set();
  const server = http.createServer((req, res) => {
    const started = performance.now();
    const query = req.url.indexOf('?');
    const pathname = query === -1 ? req.url : req.url.slice(0, query);
    const route = routeOf(pathname);
    // While stopping, each answer closes its connection, so keep-alive clients move on.
    if (stopping) res.setHeader('connection', 'close');
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
    res.once('close', () => {
      const seconds = (performance.now() - started) / 1000;
      metrics.observe(req.method, route, res.statusCode, seconds);
      log('info', 'request', {
        method: req.method,
        route,
        path: pathname.slice(0, 200),
        status: res.statusCode,
        duration_ms: Math.round(seconds * 10000) / 10,
      });
    });

    if (route === '/api/*') return proxy(req, res);
    if (route === '/health') return sendJson(res, 200, { status: 'ok' });
    if (route === 'unmatched') return sendJson(res, 404, { error: 'not found' });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return sendJson(res, 405, { error: 'method not allowed; use GET, HEAD' });
    }
    if (route === '/metrics') return sendMetrics(req, res);
    const file = files[route];
    res.writeHead(200, {
      'content-type': file.type,
      'content-length': file.body.length,
      'cache-control': 'no-cache',
      ...SECURITY_HEADERS,
    });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  });
  server.keepAliveTimeout = 65000;
  server.headersTimeout = 66000;
  server.on('error', (err) => {
    console.error(`frontend: cannot listen on port ${port}: ${err.code || err.message}`);
    process.exit(1);
  });
  server.listen(port, () =>
    log('info', 'listening', { port: server.address().port, backend: target(backendUrl), node: process.version }),
  );

  function shutdown(signal) {
    if (stopping) return;
    stopping = true;
    log('info', 'shutting down', { signal });
    // Stop accepting, let requests in flight finish (their answers close the connection), close
    // idle keep-alive sockets now and any still open after the grace period.
    for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
    server.close(() => {
      agent.destroy();
      log('info', 'stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

// The backend's origin for the log, without any credentials a URL might carry.
function target(url) {
  return new URL(url).origin;
}

main();
