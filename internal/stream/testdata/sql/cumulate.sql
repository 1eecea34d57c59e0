-- Running totals inside each 2-minute window, every 30 s.
CREATE MATERIALIZED VIEW v AS
SELECT window_start, window_end, sum(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors, count(*) AS n
FROM TABLE(CUMULATE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '30' SECOND, INTERVAL '2' MINUTE))
GROUP BY window_start, window_end;
