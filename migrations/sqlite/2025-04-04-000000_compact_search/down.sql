-- The contentless index cannot give its text back: run `digicon reindex` after this.
DROP TABLE search_fts;
CREATE VIRTUAL TABLE search_fts USING fts5(title, body, staff, tokenize = 'unicode61 remove_diacritics 0');
