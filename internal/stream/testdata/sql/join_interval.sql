-- partitions: 3
-- disorder: 3m
-- An interval self-join: each user's next click within 3 seconds. The
-- disorder bound is above the input's (175 s), so no record is late however
-- the sides interleave, and the watermark still moves during the run
-- (rows leave the buffers). Late join input is TestJoinLateRecords.
CREATE MATERIALIZED VIEW v AS
SELECT a.user_id, a.url AS first_url, b.url AS next_url, a.ts AS first_ts, b.ts AS next_ts
FROM clicks a JOIN clicks b ON a.user_id = b.user_id AND b.ts > a.ts AND b.ts <= a.ts + INTERVAL '3' SECOND;
