-- Approximate distinct users and amount percentiles per 2 minutes, next to the exact figures.
CREATE MATERIALIZED VIEW v AS
SELECT window_start, window_end, count(DISTINCT user_id) AS users, approx_count_distinct(user_id) AS approx_users,
       approx_count_distinct(status) AS statuses, approx_percentile(amount, 0.5) AS p50, approx_percentile(status, 0.9) AS p90_status
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '2' MINUTE))
GROUP BY window_start, window_end;
