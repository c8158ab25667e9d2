'use strict';
// Lists notes and adds one, through the frontend server's same-origin proxy of /api.
// Text is inserted with textContent, never as HTML: a note cannot inject markup.

const list = document.getElementById('notes');
const form = document.getElementById('note-form');
const input = document.getElementById('note-text');
const status = document.getElementById('status');

async function errorOf(response) {
  try {
    const body = await response.json();
    return body.error || `HTTP ${response.status}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

async function loadNotes() {
  const response = await fetch('/api/notes');
  if (!response.ok) throw new Error(await errorOf(response));
  const { notes } = await response.json();
  list.replaceChildren(
    ...notes.map((note) => {
      const item = document.createElement('li');
      const time = document.createElement('time');
      time.dateTime = note.created_at;
      time.textContent = new Date(note.created_at).toLocaleString();
      const text = document.createElement('p');
      text.textContent = note.text;
      item.append(time, text);
      return item;
    }),
  );
  status.textContent = notes.length ? '' : 'No notes yet.';
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  status.textContent = 'Saving...';
  try {
    const response = await fetch('/api/notes', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: input.value }),
    });
    if (!response.ok) throw new Error(await errorOf(response));
    input.value = '';
    await loadNotes();
  } catch (err) {
    status.textContent = `Could not save the note: ${err.message}`;
  }
});

loadNotes().catch((err) => {
  status.textContent = `Could not load notes: ${err.message}`;
});
