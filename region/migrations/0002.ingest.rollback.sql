ALTER TABLE hall_links DROP COLUMN last_error;
ALTER TABLE hall_links DROP COLUMN accepted_at;
ALTER TABLE hall_links DROP COLUMN accepted_through_seq;
ALTER TABLE region_away DROP COLUMN started_at;
DROP AGGREGATE hallq_sum(int[]);
DROP FUNCTION hallq_add(int[], int[]);
