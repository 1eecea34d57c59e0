-- input: sessions_emit.ndjson
-- disorder: 2m
-- Early rows of open sessions; out-of-order clicks move a session's start
-- and bridge two sessions, so early rows under the old keys are retracted.
-- The table (latest row per key) must hold exactly the closed sessions.
CREATE MATERIALIZED VIEW v AS
SELECT user_id, window_start, window_end, count(*) AS clicks, sum(amount) AS spent
FROM TABLE(SESSION(TABLE clicks PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '20' SECOND))
GROUP BY user_id, window_start, window_end
EMIT EVERY INTERVAL '1' SECOND;
