DROP TABLE kintone_records;
