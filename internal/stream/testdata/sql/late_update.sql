-- Windows fire 10 s after their end; late records update the row for 2 more minutes.
CREATE MATERIALIZED VIEW v AS
SELECT window_start, window_end, count(*) AS n, sum(amount) AS total
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end
ALLOWED LATENESS INTERVAL '10' SECOND
LATE DATA UPDATE FOR INTERVAL '2' MINUTE;
