-- Cards a terminal must be told again by its next incremental sync of a book, after it edited
-- one and the edit was refused: kept in the database, so that whichever instance answers that
-- sync reports them. They go with their terminal.
CREATE TABLE refetches (
    terminal_id BLOB NOT NULL REFERENCES terminals (id) ON DELETE CASCADE,
    book        TEXT NOT NULL,    -- 'contacts', 'me' or the group id
    subject_id  BLOB NOT NULL,
    added_at    INTEGER NOT NULL,
    PRIMARY KEY (terminal_id, book, subject_id)
) WITHOUT ROWID;
