DROP TABLE consultation_stats;
