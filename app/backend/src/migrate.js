'use strict';
// Applies pending SQL migrations: `node src/migrate.js`, Railway's pre-deploy command.
//
// migrations/NNN_name.sql files run in filename order, each in its own transaction together
// with its row in schema_migrations, so a migration is either applied and recorded or not at
// all. A session advisory lock serialises concurrent runs (two deployments starting at once):
// the second waits, then finds nothing pending. A migration already applied whose file has
// since changed stops the run: edit history by adding a new migration, never by rewriting one.
// Statements that cannot run inside a transaction (CREATE INDEX CONCURRENTLY) are not supported.
//
// Environment: DATABASE_URL (required), MIGRATIONS_DIR (default: ../migrations),
// MIGRATE_LOCK_TIMEOUT_SECONDS (how long to wait for another run, default 300).
// Success prints what was applied; failure prints one line on stderr and exits non-zero.

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { Client } = require('pg');

// pg_advisory_lock key: a fixed 64-bit number, the same for every instance of this app.
const LOCK_KEY = '7243319950114712001';
const FILE_PATTERN = /^[0-9]+_[A-Za-z0-9_-]+\.sql$/;

class MigrationError extends Error {}

function readMigrations(dir) {
  let names;
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    throw new MigrationError(`cannot read migrations directory ${dir}: ${err.code || err.message}`);
  }
  return names
    .filter((name) => FILE_PATTERN.test(name))
    .sort()
    .map((name) => {
      const sql = fs.readFileSync(path.join(dir, name), 'utf8');
      return { name, sql, checksum: crypto.createHash('sha256').update(sql).digest('hex') };
    });
}

// The error's message with anything from the connection string removed.
function describe(err, databaseUrl) {
  let message = err.code && !err.message ? err.code : err.message || String(err);
  if (err.code && /^[0-9A-Z]{5}$/.test(err.code)) message += ` (SQLSTATE ${err.code})`;
  const secrets = [databaseUrl];
  try {
    secrets.push(decodeURIComponent(new URL(databaseUrl).password));
  } catch {
    // not a URL: the whole string is already in the list
  }
  for (const secret of secrets.filter((s) => s && s.length >= 4)) message = message.split(secret).join('[redacted]');
  return message.replace(/\s+/g, ' ').trim();
}

async function migrate({ databaseUrl, dir, lockTimeoutSeconds, say }) {
  const migrations = readMigrations(dir);
  const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10000 });
  client.on('error', () => {}); // a dropped connection surfaces as the failing query's error
  try {
    await client.connect();
  } catch (err) {
    throw new MigrationError(`cannot connect to the database: ${describe(err, databaseUrl)}`);
  }
  try {
    await client.query("SET application_name = 'mvs-migrate'");
    await client.query(`SET lock_timeout = '${Math.round(lockTimeoutSeconds * 1000)}ms'`);
    try {
      await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    } catch (err) {
      throw new MigrationError(`another migration run held the lock for ${lockTimeoutSeconds}s: ${describe(err)}`);
    }
    await client.query('RESET lock_timeout');
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version text PRIMARY KEY,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query('SELECT version, checksum FROM schema_migrations');
    const applied = new Map(rows.map((row) => [row.version, row.checksum]));

    for (const migration of migrations) {
      const checksum = applied.get(migration.name);
      if (checksum !== undefined && checksum !== migration.checksum) {
        throw new MigrationError(
          `${migration.name} was applied but its file has changed since; restore it and add a new migration instead`,
        );
      }
    }
    const pending = migrations.filter((m) => !applied.has(m.name));
    for (const migration of pending) {
      try {
        await client.query('BEGIN');
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)', [
          migration.name,
          migration.checksum,
        ]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw new MigrationError(`${migration.name} failed, nothing of it applied: ${describe(err, databaseUrl)}`);
      }
      say(`migrate: applied ${migration.name}`);
    }
    say(
      pending.length
        ? `migrate: ${pending.length} applied, ${migrations.length} in total`
        : `migrate: up to date (${migrations.length} applied)`,
    );
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]);
    return pending.map((m) => m.name);
  } finally {
    await client.end().catch(() => {});
  }
}

async function main() {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    console.error('migrate: DATABASE_URL is not set');
    process.exit(2);
  }
  const lockTimeoutSeconds = Number(process.env.MIGRATE_LOCK_TIMEOUT_SECONDS || 300);
  const dir = process.env.MIGRATIONS_DIR || path.join(__dirname, '..', 'migrations');
  try {
    await migrate({ databaseUrl, dir, lockTimeoutSeconds, say: (line) => console.log(line) });
  } catch (err) {
    const message = err instanceof MigrationError ? err.message : describe(err, databaseUrl);
    console.error(`migrate: ${message}`);
    process.exit(1);
  }
}

module.exports = { migrate, readMigrations, LOCK_KEY };

if (require.main === module) main();
