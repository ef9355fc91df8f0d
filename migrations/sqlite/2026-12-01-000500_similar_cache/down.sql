DROP TABLE similar_cache;
