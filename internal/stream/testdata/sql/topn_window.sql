-- A windowed Top-N: per 1-minute window and status, the two earliest
-- clicks of users other than "cy"; each window's rows come when it closes.
CREATE MATERIALIZED VIEW v AS
SELECT window_start, window_end, status, user_id, ts, n
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, status ORDER BY ts, user_id) AS n
  FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
  WHERE user_id <> 'cy'
) w
WHERE n < 3;
