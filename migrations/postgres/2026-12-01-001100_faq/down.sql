DROP TABLE deflections;
DROP TABLE faq_articles;
