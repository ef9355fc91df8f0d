-- Files on consultations and inquiries: the bytes under data/files by their
-- SHA-256 (so a file uploaded twice is stored once), the row here. Internal
-- files (attached to internal notes) are for staff only.
CREATE TABLE attachments (
    id BIGSERIAL PRIMARY KEY,
    consultation_id BIGINT REFERENCES consultations(id),
    inquiry_id BIGINT REFERENCES inquiries(id),
    internal BOOLEAN NOT NULL,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_by BIGINT NOT NULL REFERENCES users(id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX attachments_consultation ON attachments(consultation_id) WHERE consultation_id IS NOT NULL;
CREATE INDEX attachments_inquiry ON attachments(inquiry_id) WHERE inquiry_id IS NOT NULL;
CREATE INDEX attachments_sha256 ON attachments(sha256);
