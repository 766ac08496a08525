ALTER TABLE events ALTER COLUMN data TYPE jsonb;
ALTER TABLE events ADD CONSTRAINT events_hall_id_fkey FOREIGN KEY (hall_id) REFERENCES halls (id);
CREATE INDEX events_by_day ON events (hall_id, day);
