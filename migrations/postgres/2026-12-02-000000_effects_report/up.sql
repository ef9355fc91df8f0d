-- The effects the city publishes (issue 20): one-off development cost avoided by
-- building in-house and the effects that are not hours, per system; a fiscal
-- year's figures frozen when the DX office closes it, every close and reopen kept;
-- the targets and the first year of the cumulative amount, set by an admin.
ALTER TABLE systems ADD COLUMN development_cost_avoided BIGINT;
-- JSON list of {"what","before","after","unit","note"}.
ALTER TABLE systems ADD COLUMN other_effects TEXT NOT NULL DEFAULT '[]';

CREATE TABLE effects_years (
    fiscal_year INTEGER PRIMARY KEY,
    -- JSON of the year's figures as they were when it was closed.
    figures TEXT NOT NULL,
    closed_by BIGINT REFERENCES users(id),
    closed_at TIMESTAMP NOT NULL
);

-- Append-only: who closed or reopened which year, when, and why.
CREATE TABLE effects_year_events (
    id BIGSERIAL PRIMARY KEY,
    fiscal_year INTEGER NOT NULL,
    action TEXT NOT NULL,
    actor_id BIGINT REFERENCES users(id),
    reason TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX effects_year_events_year ON effects_year_events(fiscal_year, id);

-- One row (id 1) once an admin saves the settings page.
CREATE TABLE effects_settings (
    id INTEGER PRIMARY KEY,
    start_fiscal_year INTEGER NOT NULL,
    target_hours BIGINT NOT NULL,
    target_amount BIGINT,
    target_fiscal_year INTEGER NOT NULL,
    updated_by BIGINT REFERENCES users(id),
    updated_at TIMESTAMP NOT NULL
);
