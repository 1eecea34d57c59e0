-- partitions: 2
-- disorder: 3m
-- A window join feeding a windowed aggregate: per country and 10-second
-- window, pairs of a successful click and a failed one by the same user.
CREATE MATERIALIZED VIEW v AS
SELECT a.country, window_start, window_end, count(*) AS pairs, sum(b.amount) AS failed_amount
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND)) a
JOIN TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND)) b
  ON a.user_id = b.user_id AND a.window_start = b.window_start AND a.window_end = b.window_end
WHERE a.status = 200 AND b.status <> 200
GROUP BY a.country, window_start, window_end;
