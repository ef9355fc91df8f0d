-- FAQ articles (よくある質問), published from answered inquiries or written by
-- staff, and "this solved it" (a question that was never asked: a deflection).
CREATE TABLE faq_articles (
    id BIGSERIAL PRIMARY KEY,
    title TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    topic TEXT NOT NULL,
    source_inquiry_id BIGINT REFERENCES inquiries(id),
    version INTEGER NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users(id),
    updated_by BIGINT NOT NULL REFERENCES users(id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX faq_articles_updated ON faq_articles(updated_at);

CREATE TABLE deflections (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    faq_id BIGINT REFERENCES faq_articles(id),
    inquiry_id BIGINT REFERENCES inquiries(id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX deflections_created ON deflections(created_at);
