-- q14, calculation: bids in a price range, in dollars, labelled by the time
-- of day, with the number of 'c's in extra.
CREATE MATERIALIZED VIEW q14 AS
SELECT auction, bidder, 0.908 * price AS price,
  CASE
    WHEN extract(hour FROM dateTime) >= 8 AND extract(hour FROM dateTime) <= 18 THEN 'dayTime'
    WHEN extract(hour FROM dateTime) <= 6 OR extract(hour FROM dateTime) >= 20 THEN 'nightTime'
    ELSE 'otherTime'
  END AS bidTimeType,
  dateTime, extra, length(extra) - length(replace(extra, 'c', '')) AS c_counts
FROM bid
WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000;
