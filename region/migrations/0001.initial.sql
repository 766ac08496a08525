-- hallq-region's schema: the halls, their event logs as shipped, their live status, and the
-- daily aggregates kept at ingest (the reports read daily_* only; a month = the sum of its days).
-- Times are the hall's: `day` is the hall's own day (its time zone), `at` the moment.

CREATE TABLE halls (
    id text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
    name text NOT NULL,
    token_sha256 bytea NOT NULL CHECK (length(token_sha256) = 32),  -- never the token itself
    disabled boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The shipping link of each hall: what the region has taken, and whether the hall's log still
-- agrees with it.
CREATE TABLE hall_links (
    hall_id text PRIMARY KEY REFERENCES halls (id) ON DELETE CASCADE,
    epoch text,                      -- the hall database's identity, as the hall sends it
    acked_seq bigint NOT NULL DEFAULT 0,   -- every event 1..acked_seq is stored, once
    last_event_at timestamptz,       -- `at` of the newest event stored
    last_contact_at timestamptz,     -- the last batch or heartbeat that came in
    backlog bigint NOT NULL DEFAULT 0,     -- events the hall said it still had to send
    diverged_at_seq bigint,          -- set: the hall sent a different event under a seq the
    diverged_detail text             -- region has (restored from a backup); nothing is taken
);                                   -- until `hallq-region accept-restore ID`

-- Each hall's event log, as shipped: only the allow-listed fields of each event type
-- (hall/shipping.py); phone numbers, names, addresses and free text never come here.
CREATE TABLE events (
    hall_id text NOT NULL REFERENCES halls (id),
    seq bigint NOT NULL,             -- the hall's own seq: gapless, increasing
    at timestamptz NOT NULL,
    day date NOT NULL,
    type text NOT NULL,
    window_no int,
    ticket_id bigint,                -- the hall's ticket id (unique within the hall)
    staff_id text,
    data jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (hall_id, seq)
);
CREATE INDEX events_by_day ON events (hall_id, day);

-- The latest live snapshot each hall sent (its heartbeat): waiting per service, longest wait,
-- predicted wait against target, windows open / away / overdue, devices offline, issuing.
CREATE TABLE hall_status (
    hall_id text PRIMARY KEY REFERENCES halls (id) ON DELETE CASCADE,
    at timestamptz NOT NULL,
    status jsonb NOT NULL
);

-- Each hall's services as its config names them (sent with every batch).
CREATE TABLE hall_services (
    hall_id text NOT NULL REFERENCES halls (id) ON DELETE CASCADE,
    service_id text NOT NULL,
    name jsonb NOT NULL,             -- {"zh": "缴费", "en": "Payment"}
    target_wait_minutes double precision NOT NULL,
    PRIMARY KEY (hall_id, service_id)
);

-- Per hall, hall day and service, kept at ingest in the same transaction as the events.
-- The definitions are the hall's reports' (hall/reports.py, hall/promises.py,
-- hall/appointments.py); every time is in seconds; a *_hist is a histogram of whole minutes:
-- element i (1-based) counts values in [i-1, i) minutes, the last element counts everything
-- from WAIT_BUCKETS-1 minutes on (open-ended), so a P90 across halls, services and days is
-- read from the summed histograms, to the minute.
CREATE TABLE daily_service (
    hall_id text NOT NULL REFERENCES halls (id) ON DELETE CASCADE,
    day date NOT NULL,
    service_id text NOT NULL,
    issued int NOT NULL DEFAULT 0,       -- tickets issued for this service (`issue`), by day of
                                         -- issue; a transferred ticket counts where it was issued
    served int NOT NULL DEFAULT 0,       -- tickets finished (`finish`), by their final service
    no_show int NOT NULL DEFAULT 0,      -- tickets marked no-show, by their service then
    cancelled int NOT NULL DEFAULT 0,    -- waiting tickets cancelled by a supervisor
    expired int NOT NULL DEFAULT 0,      -- tickets still waiting at the day's end
    transferred int NOT NULL DEFAULT 0,  -- transfers, by the service the ticket left
    wait_count int NOT NULL DEFAULT 0,   -- waits: issue -> FIRST call of a ticket, by the
    wait_sum_s double precision NOT NULL DEFAULT 0,  -- service it was first called for
    wait_within_target int NOT NULL DEFAULT 0,  -- waits <= that service's target_wait_minutes
    wait_hist int[] NOT NULL DEFAULT array_fill(0, ARRAY[121]),  -- 0..119 min, then >= 120
    handling_count int NOT NULL DEFAULT 0,  -- handling: start (or call) -> finish of the
    handling_sum_s double precision NOT NULL DEFAULT 0,  -- tickets served, by final service
    rating_count int NOT NULL DEFAULT 0,  -- ratings given (1..5), by the ticket's service
    rating_sum int NOT NULL DEFAULT 0,    -- when rated, on the ticket's day
    ratings int[] NOT NULL DEFAULT array_fill(0, ARRAY[5]),  -- ratings[s] = how many gave s
    estimate_count int NOT NULL DEFAULT 0,  -- tickets with a printed wait estimate that were
                                            -- called, by the service and day of ISSUE
    estimate_within int NOT NULL DEFAULT 0,  -- |real - estimate| <= max(3 min, 25 % of it)
    estimate_err_sum_s double precision NOT NULL DEFAULT 0,  -- sum of (estimate - real wait):
                                            -- negative = people waited longer than promised
    estimate_err_hist int[] NOT NULL DEFAULT array_fill(0, ARRAY[61]),  -- |real - estimate|,
                                            -- 0..59 min, then >= 60 (the median error)
    appointments_booked int NOT NULL DEFAULT 0,  -- bookings not cancelled, by the SLOT's day
    appointments_checked_in int NOT NULL DEFAULT 0,  -- by the slot's day (= day of check-in)
    appointments_no_show int NOT NULL DEFAULT 0,  -- not checked in by the end of grace
    PRIMARY KEY (hall_id, day, service_id)
);

-- Per hall and hall day: the windows' away periods, by the day they began.
CREATE TABLE daily_hall (
    hall_id text NOT NULL REFERENCES halls (id) ON DELETE CASCADE,
    day date NOT NULL,
    away_count int NOT NULL DEFAULT 0,     -- away periods begun (`away`)
    away_sum_s double precision NOT NULL DEFAULT 0,  -- their lengths, counted when each ends
                                           -- (`back`), on the day it began
    away_overdue int NOT NULL DEFAULT 0,   -- periods that passed their limit (`away_overdue`)
    PRIMARY KEY (hall_id, day)
);

-- Ingest's own memory of each ticket, for the figures that join two events (the wait, the
-- estimate's accuracy, ratings and expiries by service). Not for reports.
CREATE TABLE region_tickets (
    hall_id text NOT NULL REFERENCES halls (id) ON DELETE CASCADE,
    ticket_id bigint NOT NULL,
    day date NOT NULL,
    number text NOT NULL,
    issued_service text NOT NULL,
    service text NOT NULL,               -- where it is now (calls and transfers move it)
    issued_at timestamptz NOT NULL,
    estimate_min double precision,       -- the wait printed on the ticket
    first_called_at timestamptz,
    PRIMARY KEY (hall_id, ticket_id)
);
CREATE INDEX region_tickets_by_number ON region_tickets (hall_id, day, number);

-- Ingest's memory of each booking: its service and slot day (cancellations and no-shows name
-- the booking only).
CREATE TABLE region_appointments (
    hall_id text NOT NULL REFERENCES halls (id) ON DELETE CASCADE,
    appointment_id bigint NOT NULL,
    day date NOT NULL,
    service text NOT NULL,
    PRIMARY KEY (hall_id, appointment_id)
);

-- Ingest's memory of each window's away period in progress: the day it began.
CREATE TABLE region_away (
    hall_id text NOT NULL REFERENCES halls (id) ON DELETE CASCADE,
    window_no int NOT NULL,
    day date NOT NULL,
    PRIMARY KEY (hall_id, window_no)
);
