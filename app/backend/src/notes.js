'use strict';
// The notes API: the one route that proves the whole chain (frontend -> backend -> PostgreSQL)
// works. Input is validated here so the database constraint is a backstop, not the check.

const MAX_TEXT_LENGTH = 1000;
const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 100;

class BadRequest extends Error {}

// The note's text, trimmed, or a BadRequest saying what is wrong with the body.
function validateNote(body) {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequest('body must be a JSON object like {"text": "..."}');
  }
  if (typeof body.text !== 'string') throw new BadRequest('"text" must be a string');
  const text = body.text.trim();
  if (text.length === 0) throw new BadRequest('"text" must not be empty');
  if ([...text].length > MAX_TEXT_LENGTH) {
    throw new BadRequest(`"text" must be at most ${MAX_TEXT_LENGTH} characters`);
  }
  return text;
}

function parseLimit(raw) {
  if (raw === null) return DEFAULT_LIMIT;
  if (!/^[0-9]+$/.test(raw)) throw new BadRequest(`"limit" must be an integer from 1 to ${MAX_LIMIT}`);
  const limit = Number(raw);
  if (limit < 1 || limit > MAX_LIMIT) throw new BadRequest(`"limit" must be an integer from 1 to ${MAX_LIMIT}`);
  return limit;
}

function toJson(row) {
  return { id: Number(row.id), text: row.text, created_at: row.created_at.toISOString() };
}

async function listNotes(pool, limit) {
  const { rows } = await pool.query(
    'SELECT id, text, created_at FROM notes ORDER BY created_at DESC, id DESC LIMIT $1',
    [limit],
  );
  return rows.map(toJson);
}

async function createNote(pool, text) {
  const { rows } = await pool.query('INSERT INTO notes (text) VALUES ($1) RETURNING id, text, created_at', [text]);
  return toJson(rows[0]);
}

module.exports = { BadRequest, validateNote, parseLimit, listNotes, createNote, MAX_TEXT_LENGTH, MAX_LIMIT };
