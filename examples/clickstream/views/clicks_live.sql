-- The same per-country minute counts as clicks_per_minute, but the open
-- minute's rows are rewritten every second (EMIT EVERY: early firing), so
-- the dashboard's chart moves while the minute fills. An upsert view: SELECT
-- from it shows each window and country once, with its latest counts.
CREATE MATERIALIZED VIEW clicks_live AS
SELECT window_start, window_end, country,
       count(*) AS clicks,
       sum(amount) AS revenue
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, country
EMIT EVERY INTERVAL '1' SECOND;
