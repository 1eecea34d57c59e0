-- Clicks, revenue and distinct users per country per minute of event time.
-- A minute's rows appear once the watermark (newest event time - 5 s, the
-- stream's max_disorder) passes its end; clicks that arrive later are kept
-- in the table clicks_per_minute__late.
CREATE MATERIALIZED VIEW clicks_per_minute AS
SELECT window_start, window_end, country,
       count(*) AS clicks,
       sum(amount) AS revenue,
       count(DISTINCT user_id) AS users
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, country;

-- Server errors per status code since the view was created, updated at
-- every commit (about ten times a second).
CREATE MATERIALIZED VIEW errors_by_status AS
SELECT status, count(*) AS n, max(ts) AS last_seen
FROM clicks
WHERE status >= 500
GROUP BY status;
