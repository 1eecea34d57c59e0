-- q17, auction statistics per day: bid counts by price range, and the
-- minimum, maximum, average and total price.
CREATE MATERIALIZED VIEW q17 AS
SELECT auction, window_start AS day,
  count(*) AS total_bids,
  sum(CASE WHEN price < 10000 THEN 1 ELSE 0 END) AS rank1_bids,
  sum(CASE WHEN price >= 10000 AND price < 1000000 THEN 1 ELSE 0 END) AS rank2_bids,
  sum(CASE WHEN price >= 1000000 THEN 1 ELSE 0 END) AS rank3_bids,
  min(price) AS min_price, max(price) AS max_price, avg(price) AS avg_price, sum(price) AS sum_price
FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '1' DAY))
GROUP BY auction, window_start, window_end;
