-- Japanese-capable search: each consultation's text as character bigrams
-- (src/domain/search.rs) in GIN-indexed tsvectors. `public_tsv` is the title,
-- body, resolution and public comments; `staff_tsv` the internal notes.
CREATE TABLE search_documents (
    consultation_id BIGINT PRIMARY KEY REFERENCES consultations(id),
    title_tsv tsvector NOT NULL,
    public_tsv tsvector NOT NULL,
    staff_tsv tsvector NOT NULL
);
CREATE INDEX search_documents_title ON search_documents USING GIN (title_tsv);
CREATE INDEX search_documents_public ON search_documents USING GIN (public_tsv);
CREATE INDEX search_documents_staff ON search_documents USING GIN (staff_tsv);
