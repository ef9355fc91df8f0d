-- The consultations like a new one, found once (by the worker after filing, or
-- by its first viewer) and read by every later view of its page, instead of
-- searching again at each of the DX office's visits.
CREATE TABLE similar_cache (
    consultation_id BIGINT PRIMARY KEY NOT NULL REFERENCES consultations(id),
    similar_ids TEXT NOT NULL,
    computed_at TIMESTAMP NOT NULL
);
