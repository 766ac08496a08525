-- depends: 0001.initial
-- What ingest needs beside 0001, and what the reports may use.

-- Adding histograms element by element: hallq_add(a, b) for two rows (ingest's upserts), and
-- the aggregate hallq_sum(h) for a few rows. Over many rows (a month of every hall) it costs a
-- function call per row: there, sum each element natively, as region.aggregates.summed(column)
-- writes it (ARRAY[sum(wait_hist[1]), ..., sum(wait_hist[121])]).
CREATE FUNCTION hallq_add(a int[], b int[]) RETURNS int[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (SELECT array_agg(coalesce(x, 0) + coalesce(y, 0) ORDER BY i)
            FROM unnest(a, b) WITH ORDINALITY AS u(x, y, i));
CREATE AGGREGATE hallq_sum(int[]) (SFUNC = hallq_add, STYPE = int[], PARALLEL = SAFE);

-- When the away period in progress began, for one ended by closing the window.
ALTER TABLE region_away ADD COLUMN started_at timestamptz;

-- `hallq-region accept-restore ID`: the region keeps its events up to this seq and skips the
-- hall's events numbered so, without comparing them (docs: "A hall restored from a backup").
ALTER TABLE hall_links ADD COLUMN accepted_through_seq bigint;
ALTER TABLE hall_links ADD COLUMN accepted_at timestamptz;
ALTER TABLE hall_links ADD COLUMN last_error text;  -- the last batch refused, and why
