-- q18, find last bid: the latest bid of every bidder on every auction
-- (deduplication by row number). A continuous Top-N with N = 1: the view
-- holds one row per bidder and auction, rewritten when a later bid comes.
CREATE MATERIALIZED VIEW q18 AS
SELECT auction, bidder, price, channel, url, dateTime, extra
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY dateTime DESC) AS rank_number
  FROM bid
) b
WHERE rank_number <= 1;
