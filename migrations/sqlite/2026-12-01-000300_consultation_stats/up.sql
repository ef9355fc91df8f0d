-- The dashboard's rollups (domain::rollup): counts per fiscal year, division
-- (0: the whole organisation), measure and key, kept in the transaction of each
-- change and rebuilt by `digicon reindex`.
CREATE TABLE consultation_stats (
    fiscal_year INTEGER NOT NULL,
    division_id BIGINT NOT NULL,
    measure TEXT NOT NULL,
    key TEXT NOT NULL,
    n BIGINT NOT NULL,
    total BIGINT NOT NULL,
    PRIMARY KEY (fiscal_year, division_id, measure, key)
);
