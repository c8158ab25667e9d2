'use strict';
// The HTTP request handler: a fixed route table over node's http module (no framework).
// Every request is measured and logged under its route template; unknown paths are
// "unmatched", so neither metrics nor logs grow with what clients invent.

const { performance } = require('node:perf_hooks');
const { checkDatabase, reasonOf } = require('./db');
const metrics = require('./metrics');
const notes = require('./notes');
const log = require('./log');

const MAX_BODY_BYTES = 16 * 1024;
const UNMATCHED = 'unmatched';

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function sendJson(res, status, body, headers = {}) {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(payload);
}

function readJsonBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        // Stop buffering; the 413 goes out with `connection: close`, which drops the rest.
        req.removeAllListeners('data');
        req.removeAllListeners('end');
        req.resume();
        reject(new HttpError(413, `body must be at most ${MAX_BODY_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new HttpError(400, 'body must be valid JSON'));
      }
    });
    req.on('error', reject);
  });
}

function requirePool(pool) {
  if (!pool) throw new HttpError(503, 'database not configured');
  return pool;
}

// A failed query: the client learns only that the database is unavailable (503, worth a retry)
// or that something failed (500); the log gets the short reason, never the driver's message,
// which may echo connection details.
function databaseFailure(err) {
  const reason = reasonOf(err);
  log.error('database call failed', { reason, code: err.code });
  return reason === 'error' ? new HttpError(500, 'internal error') : new HttpError(503, 'database unavailable');
}

function createHandler({ pool }) {
  const routes = {
    '/health': {
      GET: async (req, res) => {
        const problem = await checkDatabase(pool);
        if (problem === null) return sendJson(res, 200, { status: 'ok', database: 'ok' });
        log.warn('health check failed', { database: problem });
        return sendJson(res, 503, { status: 'unavailable', database: problem });
      },
    },
    '/metrics': {
      GET: async (req, res) => {
        const body = await metrics.registry.metrics();
        res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' });
        res.end(body);
      },
    },
    '/api/notes': {
      GET: async (req, res, url) => {
        let limit;
        try {
          limit = notes.parseLimit(url.searchParams.get('limit'));
        } catch (err) {
          throw err instanceof notes.BadRequest ? new HttpError(400, err.message) : err;
        }
        const list = await notes.listNotes(requirePool(pool), limit).catch((err) => {
          throw databaseFailure(err);
        });
        sendJson(res, 200, { notes: list });
      },
      POST: async (req, res) => {
        const db = requirePool(pool);
        let text;
        try {
          text = notes.validateNote(await readJsonBody(req));
        } catch (err) {
          throw err instanceof notes.BadRequest ? new HttpError(400, err.message) : err;
        }
        const note = await notes.createNote(db, text).catch((err) => {
          throw databaseFailure(err);
        });
        sendJson(res, 201, note);
      },
    },
  };

  return async function handle(req, res) {
    const started = performance.now();
    // Split by hand: new URL() would read a request for "//host/path" as another host's URL.
    const query = req.url.indexOf('?');
    const url = {
      pathname: query === -1 ? req.url : req.url.slice(0, query),
      searchParams: new URLSearchParams(query === -1 ? '' : req.url.slice(query + 1)),
    };
    const methods = Object.prototype.hasOwnProperty.call(routes, url.pathname) ? routes[url.pathname] : null;
    const route = methods ? url.pathname : UNMATCHED;

    res.once('close', () => {
      const seconds = (performance.now() - started) / 1000;
      metrics.observe(req.method, route, res.statusCode, seconds);
      log.info('request', {
        method: req.method,
        route,
        path: url.pathname.slice(0, 200),
        status: res.statusCode,
        duration_ms: Math.round(seconds * 10000) / 10,
        aborted: res.writableFinished ? undefined : true,
      });
    });

    try {
      if (!methods) throw new HttpError(404, 'not found');
      const handler = methods[req.method] || (req.method === 'HEAD' ? methods.GET : undefined);
      if (!handler) {
        const allow = Object.keys(methods).join(', ');
        return sendJson(res, 405, { error: `method not allowed; use ${allow}` }, { allow });
      }
      await handler(req, res, url);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpError) {
        sendJson(res, err.status, { error: err.message }, err.status === 413 ? { connection: 'close' } : {});
        return;
      }
      log.error('unhandled error', { route, error: log.redact(err && err.message) });
      sendJson(res, 500, { error: 'internal error' });
    }
  };
}

module.exports = { createHandler, UNMATCHED };
