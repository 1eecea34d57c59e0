-- input: sessions.ndjson
-- disorder: 20s
-- Out-of-order clicks extend sessions backwards and bridge two sessions into one.
CREATE MATERIALIZED VIEW v AS
SELECT user_id, window_start, window_end, count(*) AS clicks, sum(amount) AS spent, first_value(url) AS entry, last_value(url) AS exit_url
FROM TABLE(SESSION(TABLE clicks PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '20' SECOND))
GROUP BY user_id, window_start, window_end;
