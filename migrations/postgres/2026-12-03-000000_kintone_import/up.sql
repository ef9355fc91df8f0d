-- Records imported from kintone (`digicon import kintone`): which row each
-- kintone record became, keyed by its app and record number, so that running the
-- same export again imports nothing twice.
CREATE TABLE kintone_records (
    app TEXT NOT NULL,
    record_number TEXT NOT NULL,
    target_id BIGINT NOT NULL,
    imported_at TIMESTAMP NOT NULL,
    PRIMARY KEY (app, record_number)
);
CREATE INDEX kintone_records_target ON kintone_records(app, target_id);
