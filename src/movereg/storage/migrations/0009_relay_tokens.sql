-- movereg schema: home relay tokens (issue 23). Self-contained: depends on 0001 only.
-- relay_tokens: one per home relay an admin set up. Only the sha256 of the token is
--   stored (the token itself is shown once, when it is made); a revoked token is kept
--   (revoked_at/revoked_by) so the audit trail can name it.
-- relay_token_children: the children a relay may upload recordings for (chosen when the
--   token is made; a child's erasure removes the link).
CREATE TABLE IF NOT EXISTS relay_tokens (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,      -- sha256 hex of the token
    created_at    INTEGER NOT NULL,          -- UTC ns
    created_by    TEXT NOT NULL,
    revoked_at    INTEGER,                   -- UTC ns; NULL while valid
    revoked_by    TEXT,
    last_used_at  INTEGER                    -- UTC ns of the last accepted request
);

CREATE TABLE IF NOT EXISTS relay_token_children (
    token_id  INTEGER NOT NULL REFERENCES relay_tokens(id) ON DELETE CASCADE,
    child_id  INTEGER NOT NULL REFERENCES children(id) ON DELETE CASCADE,
    PRIMARY KEY (token_id, child_id)
);
CREATE INDEX IF NOT EXISTS relay_token_children_child ON relay_token_children(child_id);
