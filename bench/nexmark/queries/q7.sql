-- q7, highest bid: in 10-second tumbling windows, the bids whose price is
-- the window's highest. The WITH query (each window's max price) has
-- state of its own, so it runs as a view of its own (q7__m); every bid is
-- then joined back to the max of the window it falls in (an interval
-- join: a bid waits until its window's max is known).
CREATE MATERIALIZED VIEW q7 AS
WITH m AS (
  SELECT window_end AS wend, max(price) AS maxprice
  FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
  GROUP BY window_start, window_end
)
SELECT b.auction, b.price, b.bidder, b.dateTime
FROM bid b JOIN m ON b.price = m.maxprice
  AND b.dateTime >= m.wend - INTERVAL '10' SECOND AND b.dateTime < m.wend;
