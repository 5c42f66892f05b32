-- Cards a terminal must be told again by its next incremental sync of a book, after it edited
-- one and the edit was refused (see SQLite's 0013).
CREATE TABLE refetches (
    terminal_id UUID NOT NULL REFERENCES terminals (id) ON DELETE CASCADE,
    book        TEXT NOT NULL,
    subject_id  UUID NOT NULL,
    added_at    BIGINT NOT NULL,
    PRIMARY KEY (terminal_id, book, subject_id)
);
