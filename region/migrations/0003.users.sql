-- depends: 0002.ingest
-- Region users (region/users.py): a regional admin manages halls and users; a regional
-- supervisor sees the halls given to them. Logins are counted and locked by hall/logins.py's
-- own functions, over tables of the same names and columns as the hall's (times in epoch
-- seconds, as there).

CREATE TABLE region_users (
    id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 32),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    role text NOT NULL CHECK (role IN ('admin', 'supervisor')),
    password_hash text NOT NULL,         -- scrypt$n$r$p$salt$hash (hall/auth.py)
    disabled boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The halls a supervisor sees; an admin sees every hall and has no rows here.
CREATE TABLE region_user_halls (
    user_id text NOT NULL REFERENCES region_users (id) ON DELETE CASCADE,
    hall_id text NOT NULL REFERENCES halls (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, hall_id)
);
CREATE INDEX region_user_halls_by_hall ON region_user_halls (hall_id);

-- Sessions: only the token's sha256 is kept; a session ends at logout, at expiry, or when its
-- user is disabled.
CREATE TABLE region_sessions (
    token_key text PRIMARY KEY,
    user_id text NOT NULL REFERENCES region_users (id) ON DELETE CASCADE,
    created_at double precision NOT NULL,
    expires_at double precision NOT NULL,
    ended_at double precision
);
CREATE INDEX region_sessions_by_user ON region_sessions (user_id);

-- hall/logins.py's tables (see its docstring for what each counts).
CREATE TABLE login_failures (
    address text NOT NULL,
    staff_id text NOT NULL,
    failures integer NOT NULL,
    last_at double precision NOT NULL,
    locked_until double precision,
    PRIMARY KEY (address, staff_id)
);
CREATE INDEX login_failures_by_time ON login_failures (last_at);
CREATE INDEX login_failures_by_id ON login_failures (staff_id);
CREATE TABLE address_failures (
    address text PRIMARY KEY,
    failures integer NOT NULL,
    window_start double precision NOT NULL,
    strikes integer NOT NULL DEFAULT 0,
    blocked_until double precision,
    last_at double precision NOT NULL
);
CREATE INDEX address_failures_by_time ON address_failures (last_at);
CREATE TABLE login_known (
    staff_id text NOT NULL,
    address text NOT NULL,
    at double precision NOT NULL,
    PRIMARY KEY (staff_id, address)
);
CREATE INDEX login_known_by_time ON login_known (at);
CREATE TABLE id_failures (
    staff_id text PRIMARY KEY,
    failures integer NOT NULL,
    window_start double precision NOT NULL
);
CREATE INDEX id_failures_by_time ON id_failures (window_start);

-- The reports' month across every hall reads daily_service by day first.
CREATE INDEX daily_service_by_day ON daily_service (day);
CREATE INDEX daily_hall_by_day ON daily_hall (day);
