'use strict';
// The PostgreSQL pool, and the health probe that tells a load balancer whether this instance
// can serve requests. Errors are reported by a short fixed reason, never by the driver's
// message: that can carry host names, user names or (for a malformed URL) the URL itself.

const { Pool } = require('pg');
const log = require('./log');

const HEALTH_TIMEOUT_MS = 2000;

function createPool(databaseUrl) {
  if (!databaseUrl) return null;
  try {
    const url = new URL(databaseUrl);
    log.addSecret(databaseUrl);
    log.addSecret(decodeURIComponent(url.password));
  } catch {
    log.addSecret(databaseUrl); // not a URL (a key=value conninfo): hide it whole
  }
  const pool = new Pool({
    connectionString: databaseUrl,
    max: Number(process.env.DATABASE_POOL_MAX) || 10,
    connectionTimeoutMillis: HEALTH_TIMEOUT_MS,
    idleTimeoutMillis: 30000,
    application_name: 'mvs-backend',
  });
  // An idle client whose server went away emits 'error' on the pool; unhandled, it would
  // crash the process. The next query simply opens a new connection.
  pool.on('error', (err) => log.warn('idle database connection lost', { reason: reasonOf(err) }));
  return pool;
}

// A short, secret-free reason for a failed database call.
function reasonOf(err) {
  if (!err) return 'error';
  if (err.reason) return err.reason;
  const byCode = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host not found',
    ETIMEDOUT: 'timeout',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    '28P01': 'authentication failed',
    '28000': 'authentication failed',
    '3D000': 'database does not exist',
    '57P03': 'database is starting up',
    '53300': 'too many connections',
    '42P01': 'schema missing (run migrations)',
  };
  if (byCode[err.code]) return byCode[err.code];
  if (/timeout/i.test(err.message || '')) return 'timeout';
  return 'error';
}

function withTimeout(promise, ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { reason: 'timeout' })), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Resolves to null when the database answers `SELECT 1` in time, else to a short reason.
async function checkDatabase(pool) {
  if (!pool) return 'not configured';
  try {
    await withTimeout(pool.query({ text: 'SELECT 1', query_timeout: HEALTH_TIMEOUT_MS }), HEALTH_TIMEOUT_MS);
    return null;
  } catch (err) {
    return reasonOf(err);
  }
}

module.exports = { createPool, checkDatabase, reasonOf, HEALTH_TIMEOUT_MS };
