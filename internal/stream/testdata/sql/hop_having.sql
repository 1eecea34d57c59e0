-- Sliding 2-minute windows every 30 s per user, only busy users; late data dropped.
CREATE MATERIALIZED VIEW v AS
SELECT user_id, window_start, window_end, count(*) AS clicks, first_value(url) AS first_url, last_value(url) AS last_url
FROM TABLE(HOP(TABLE clicks, DESCRIPTOR(ts), INTERVAL '30' SECOND, INTERVAL '2' MINUTE))
WHERE status < 500
GROUP BY user_id, window_start, window_end
HAVING count(*) >= 8
LATE DATA DROP;
