-- partitions: 2
-- disorder: 3m
-- LEFT interval join with conditions pushed below it: every visit to /pay,
-- with any server error of the same user in the 2 seconds after it, or a
-- null once the watermark shows none can come.
CREATE MATERIALIZED VIEW v AS
SELECT a.user_id, a.ts, b.url AS error_url, b.status
FROM clicks a LEFT JOIN clicks b ON a.user_id = b.user_id AND b.status >= 500 AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '2' SECOND
WHERE a.url = '/pay'
LATE DATA DROP;
