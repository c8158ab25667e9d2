-- Notes: the reference app's one table. Plain CREATE (no IF NOT EXISTS): the runner applies a
-- migration once, and applying it twice should fail loudly rather than pass silently.
CREATE TABLE notes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    text text NOT NULL CHECK (char_length(text) BETWEEN 1 AND 1000),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- GET /api/notes lists newest first.
CREATE INDEX notes_created_at_idx ON notes (created_at DESC, id DESC);
