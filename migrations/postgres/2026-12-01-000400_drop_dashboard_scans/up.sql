-- The dashboard reads its rollups (consultation_stats) now; the covering indexes
-- it scanned a fiscal year with only cost every write.
DROP INDEX consultations_filed_stats;
DROP INDEX consultations_resolved_stats;
