-- q5, hot items: in sliding windows of 10 seconds advancing every 2, the
-- auctions with the most bids. Both WITH queries have state of their own
-- and run as views of their own (q5__counts, q5__maxes): bids per auction
-- and window; the most in each window (the windows end 2 s apart, so a
-- 2-second tumbling window over their ends holds one each); then the
-- counts joined back to their window's most.
CREATE MATERIALIZED VIEW q5 AS
WITH counts AS (
  SELECT auction, count(*) AS num, window_end AS wend
  FROM TABLE(HOP(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
  GROUP BY auction, window_start, window_end
), maxes AS (
  SELECT window_start AS wend, max(num) AS maxnum
  FROM TABLE(TUMBLE(TABLE counts, DESCRIPTOR(wend), INTERVAL '2' SECOND))
  GROUP BY window_start, window_end
)
SELECT c.auction, c.num
FROM counts c JOIN maxes m ON c.wend = m.wend AND c.num = m.maxnum;
