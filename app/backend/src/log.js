'use strict';
// One JSON object per line on stdout: what a container log collector (docker logs, Railway)
// reads best. Levels filter with LOG_LEVEL (debug, info, warn, error; default info).
// Callers pass fields, never a connection string: see redact() for anything that came from
// an error message.

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 };
const threshold = LEVELS[(process.env.LOG_LEVEL || 'info').toLowerCase()] || LEVELS.info;

const secrets = [];

// Remember a value that must never reach the logs (the database URL and its password).
function addSecret(value) {
  if (value && value.length >= 4) secrets.push(value);
}

function redact(text) {
  let out = String(text);
  for (const secret of secrets) out = out.split(secret).join('[redacted]');
  return out;
}

function write(level, msg, fields) {
  if (LEVELS[level] < threshold) return;
  const line = { time: new Date().toISOString(), level, msg, ...fields };
  process.stdout.write(redact(JSON.stringify(line)) + '\n');
}

module.exports = {
  addSecret,
  redact,
  debug: (msg, fields) => write('debug', msg, fields),
  info: (msg, fields) => write('info', msg, fields),
  warn: (msg, fields) => write('warn', msg, fields),
  error: (msg, fields) => write('error', msg, fields),
};
