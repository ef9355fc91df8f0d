-- The helpdesk's inquiries (DESIGN.md "Helpdesk inquiries"), beside consultations:
-- numbered per fiscal year (HD-2025-00123), versioned, with an append-only
-- timeline, comments and internal notes. `filed_by` on both streams records who
-- typed a filing made on someone's behalf; existing consultations keep NULL
-- (filed by their requester).
CREATE TABLE inquiry_counters (
    fiscal_year INTEGER PRIMARY KEY NOT NULL,
    last_seq BIGINT NOT NULL
);

CREATE TABLE inquiries (
    id BIGSERIAL PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    fiscal_year INTEGER NOT NULL,
    subject TEXT NOT NULL,
    question TEXT NOT NULL,
    topic TEXT NOT NULL,
    channel TEXT NOT NULL,
    priority TEXT NOT NULL,
    department_id BIGINT NOT NULL REFERENCES departments(id),
    asker_id BIGINT NOT NULL REFERENCES users(id),
    filed_by BIGINT NOT NULL REFERENCES users(id),
    state TEXT NOT NULL,
    assignee_id BIGINT REFERENCES users(id),
    answer TEXT,
    helped BOOLEAN,
    consultation_id BIGINT REFERENCES consultations(id),
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    first_answer_due_at TIMESTAMP,
    first_answered_at TIMESTAMP,
    answered_at TIMESTAMP,
    closed_at TIMESTAMP,
    reminded_due_at TIMESTAMP,
    breached_due_at TIMESTAMP
);
CREATE INDEX inquiries_created ON inquiries(created_at, id);
CREATE INDEX inquiries_state_created ON inquiries(state, created_at);
CREATE INDEX inquiries_department_created ON inquiries(department_id, created_at);
CREATE INDEX inquiries_assignee_state ON inquiries(assignee_id, state);
CREATE INDEX inquiries_due ON inquiries(first_answer_due_at) WHERE first_answer_due_at IS NOT NULL;
CREATE INDEX inquiries_consultation ON inquiries(consultation_id) WHERE consultation_id IS NOT NULL;

CREATE TABLE inquiry_events (
    id BIGSERIAL PRIMARY KEY,
    inquiry_id BIGINT NOT NULL REFERENCES inquiries(id),
    event TEXT NOT NULL,
    actor_id BIGINT REFERENCES users(id),
    from_state TEXT,
    to_state TEXT NOT NULL,
    payload TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (inquiry_id, version)
);

CREATE TABLE inquiry_comments (
    id BIGSERIAL PRIMARY KEY,
    inquiry_id BIGINT NOT NULL REFERENCES inquiries(id),
    author_id BIGINT NOT NULL REFERENCES users(id),
    body TEXT NOT NULL,
    internal BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX inquiry_comments_inquiry ON inquiry_comments(inquiry_id, id);

CREATE TABLE inquiry_idempotency_keys (
    user_id BIGINT NOT NULL REFERENCES users(id),
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    inquiry_id BIGINT NOT NULL REFERENCES inquiries(id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, key)
);

ALTER TABLE consultations ADD COLUMN filed_by BIGINT REFERENCES users(id);
