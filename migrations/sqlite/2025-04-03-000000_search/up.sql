-- Japanese-capable search: each consultation's text as character bigrams
-- (src/domain/search.rs) in an FTS5 table whose rowid is the consultation id.
-- `staff` holds internal notes, searched only for staff.
CREATE VIRTUAL TABLE search_fts USING fts5(title, body, staff, tokenize = 'unicode61 remove_diacritics 0');
