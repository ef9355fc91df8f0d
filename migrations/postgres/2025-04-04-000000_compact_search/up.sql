-- The compact search index is a SQLite change (see migrations/sqlite); PostgreSQL
-- keeps its tsvectors. This file keeps the two backends' migration lists alike.
SELECT 1;
