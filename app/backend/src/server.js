'use strict';
// MVS backend entry point: `node src/server.js`.
//
// Environment: PORT (default 3000), DATABASE_URL (postgresql://user:password@host:port/db),
// LOG_LEVEL (debug|info|warn|error, default info), DATABASE_POOL_MAX (default 10).
// The server starts even when the database is down or not configured: /health then answers
// 503, so the orchestrator sees an unhealthy instance instead of a crash loop.

const http = require('node:http');
const { createPool } = require('./db');
const { createHandler } = require('./app');
const log = require('./log');

// In-flight requests get this long after SIGTERM before their connections are cut.
const SHUTDOWN_GRACE_MS = 5000;

function main() {
  const port = Number(process.env.PORT || 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`backend: PORT must be a port number, got ${JSON.stringify(process.env.PORT)}`);
    process.exit(2);
  }
  const pool = createPool(process.env.DATABASE_URL);
  if (!pool) log.warn('DATABASE_URL is not set; /health will answer 503');

  const handle = createHandler({ pool });
  let stopping = false;
  const inFlight = new Set();
  const server = http.createServer((req, res) => {
    // While stopping, each answer closes its connection, so keep-alive clients move on.
    if (stopping) res.setHeader('connection', 'close');
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
    handle(req, res).catch((err) => {
      log.error('request failed', { error: log.redact(err && err.message) });
      res.destroy();
    });
  });
  // Behind Railway's proxy or a Docker health probe, keep-alive sockets outlive requests;
  // a timeout longer than the proxy's avoids races on reused connections.
  server.keepAliveTimeout = 65000;
  server.headersTimeout = 66000;

  server.on('error', (err) => {
    console.error(`backend: cannot listen on port ${port}: ${err.code || err.message}`);
    process.exit(1);
  });
  server.listen(port, () => log.info('listening', { port: server.address().port, node: process.version }));

  function shutdown(signal) {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    // Stop accepting, let requests in flight finish (their answers close the connection), close
    // idle keep-alive sockets now and any still open after the grace period.
    for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
    server.close(async () => {
      try {
        if (pool) await pool.end();
      } catch (err) {
        log.warn('closing the database pool failed', { error: log.redact(err.message) });
      }
      log.info('stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main();
