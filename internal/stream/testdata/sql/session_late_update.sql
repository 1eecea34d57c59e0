-- input: sessions_late.ndjson
-- disorder: 20s
-- LATE DATA UPDATE: fired sessions stay updatable for a minute. A late
-- click of c joins c's fired session and moves its start back (the row
-- under the old start is retracted); the next click of c, on time, grows
-- that session past the watermark, so it is open and fires again. The late
-- click of d comes after its session's update time: side output. A late click
-- of e opens a session that closed before it came: its row is written at
-- the next commit.
CREATE MATERIALIZED VIEW v AS
SELECT user_id, window_start, window_end, count(*) AS clicks, sum(amount) AS spent
FROM TABLE(SESSION(TABLE clicks PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '20' SECOND))
GROUP BY user_id, window_start, window_end
LATE DATA UPDATE FOR INTERVAL '1' MINUTE;
