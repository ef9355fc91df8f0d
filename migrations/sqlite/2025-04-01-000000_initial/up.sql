-- The consultation desk's core tables. Times are UTC in TIMESTAMP columns.
CREATE TABLE departments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    parent_id BIGINT REFERENCES departments(id),
    is_dx_office BOOLEAN NOT NULL DEFAULT 0,
    active BOOLEAN NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX departments_parent ON departments(parent_id);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    department_id BIGINT NOT NULL REFERENCES departments(id),
    locale TEXT NOT NULL DEFAULT 'ja',
    active BOOLEAN NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX users_department ON users(department_id);

CREATE TABLE consultation_counters (
    fiscal_year INTEGER PRIMARY KEY NOT NULL,
    last_seq BIGINT NOT NULL
);

CREATE TABLE consultations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT NOT NULL UNIQUE,
    fiscal_year INTEGER NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    category TEXT NOT NULL,
    priority TEXT NOT NULL,
    department_id BIGINT NOT NULL REFERENCES departments(id),
    requester_id BIGINT NOT NULL REFERENCES users(id),
    contact TEXT,
    desired_by DATE,
    state TEXT NOT NULL,
    assignee_id BIGINT REFERENCES users(id),
    hearing_at TIMESTAMP,
    hearing_place TEXT,
    resolution TEXT,
    system_id BIGINT,
    duplicate_of BIGINT REFERENCES consultations(id),
    rating SMALLINT,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    first_response_at TIMESTAMP,
    resolved_at TIMESTAMP,
    closed_at TIMESTAMP,
    hearing_due_at TIMESTAMP,
    resolution_due_at TIMESTAMP,
    due_at TIMESTAMP
);
CREATE INDEX consultations_department_created ON consultations(department_id, created_at);
CREATE INDEX consultations_state_due ON consultations(state, due_at);
CREATE INDEX consultations_assignee_state ON consultations(assignee_id, state);
CREATE INDEX consultations_created ON consultations(created_at);
CREATE INDEX consultations_updated ON consultations(updated_at);
CREATE INDEX consultations_due ON consultations(due_at);
CREATE INDEX consultations_fiscal_year ON consultations(fiscal_year);

-- Append-only: one row per change, numbered by the version it produced.
CREATE TABLE consultation_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    consultation_id BIGINT NOT NULL REFERENCES consultations(id),
    event TEXT NOT NULL,
    actor_id BIGINT REFERENCES users(id),
    from_state TEXT,
    to_state TEXT NOT NULL,
    payload TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (consultation_id, version)
);

CREATE TABLE comments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    consultation_id BIGINT NOT NULL REFERENCES consultations(id),
    author_id BIGINT NOT NULL REFERENCES users(id),
    body TEXT NOT NULL,
    internal BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX comments_consultation ON comments(consultation_id, id);

CREATE TABLE idempotency_keys (
    user_id BIGINT NOT NULL REFERENCES users(id),
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    consultation_id BIGINT NOT NULL REFERENCES consultations(id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, key)
);
