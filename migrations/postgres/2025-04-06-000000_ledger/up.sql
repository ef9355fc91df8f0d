-- The system ledger (システム管理台帳): the systems consultations produced, with the
-- hours they save, and the history of each entry's changes.
CREATE TABLE systems (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    department_id BIGINT NOT NULL REFERENCES departments(id),
    platform TEXT NOT NULL,
    phase TEXT NOT NULL,
    built_by TEXT NOT NULL,
    workflow_before TEXT,
    workflow_after TEXT,
    hours_saved_per_year BIGINT,
    cost_saved_per_year BIGINT,
    holds_personal_data BOOLEAN NOT NULL,
    manual_location TEXT,
    owner_id BIGINT NOT NULL REFERENCES users(id),
    review_on DATE,
    production_at TIMESTAMP,
    reminded_at TIMESTAMP,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX systems_department ON systems(department_id);
CREATE INDEX systems_phase ON systems(phase);

CREATE TABLE system_events (
    id BIGSERIAL PRIMARY KEY,
    system_id BIGINT NOT NULL REFERENCES systems(id),
    event TEXT NOT NULL,
    actor_id BIGINT REFERENCES users(id),
    from_phase TEXT,
    to_phase TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX system_events_system ON system_events(system_id, id);

-- A retried registration with the same Idempotency-Key returns the first entry.
CREATE TABLE system_idempotency_keys (
    user_id BIGINT NOT NULL REFERENCES users(id),
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    system_id BIGINT NOT NULL REFERENCES systems(id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, key)
);

CREATE INDEX consultations_system ON consultations(system_id);
