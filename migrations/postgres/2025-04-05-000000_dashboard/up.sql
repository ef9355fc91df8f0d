-- Dashboards: stage times kept on the consultation itself, so that a fiscal year's
-- statistics come from one scan of `consultations` instead of a join with every event.
-- `assigned_at` is the first assignment; `reopen_count` how often a resolution was reopened.
ALTER TABLE consultations ADD COLUMN assigned_at TIMESTAMP;
ALTER TABLE consultations ADD COLUMN reopen_count INTEGER NOT NULL DEFAULT 0;
UPDATE consultations SET
    assigned_at = (SELECT MIN(e.created_at) FROM consultation_events e
                   WHERE e.consultation_id = consultations.id AND e.event = 'assign'),
    reopen_count = (SELECT COUNT(*) FROM consultation_events e
                    WHERE e.consultation_id = consultations.id AND e.event = 'reopen');
-- Resolutions per month of a fiscal year come from a range on `resolved_at`.
CREATE INDEX consultations_resolved ON consultations(resolved_at);
