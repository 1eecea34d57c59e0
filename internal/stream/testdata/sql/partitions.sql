-- partitions: 4
-- disorder: 10m
-- Four input partitions; a disorder bound wider than any lateness, so no record is late.
CREATE MATERIALIZED VIEW v AS
SELECT window_start, window_end, user_id, count(*) AS n, sum(status) AS s
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '2' MINUTE))
GROUP BY window_start, window_end, user_id;
