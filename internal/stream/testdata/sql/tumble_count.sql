-- Per-country minute counts and sums, late records to the side output.
CREATE MATERIALIZED VIEW v AS
SELECT window_start, window_end, country, count(*) AS n, sum(amount) AS total,
       avg(amount) AS mean, min(status) AS lo, max(url) AS top_url, count(DISTINCT user_id) AS users
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, country;
