-- q9, winning bids: for each auction, its highest bid within its lifetime
-- (the earliest wins a tie). An interval join of auctions with their bids
-- (an auction stays joinable until the watermark passes its expiry, a bid
-- until it passes the bid's time), then a continuous Top-1 per auction.
CREATE MATERIALIZED VIEW q9 AS
SELECT id, itemName, description, initialBid, reserve, dateTime, expires, seller, category, extra,
       auction, bidder, price, bid_dateTime, bid_extra
FROM (
  SELECT a.*, b.auction, b.bidder, b.price, b.dateTime AS bid_dateTime, b.extra AS bid_extra,
         ROW_NUMBER() OVER (PARTITION BY a.id ORDER BY b.price DESC, b.dateTime ASC) AS rownum
  FROM auction a JOIN bid b ON a.id = b.auction AND b.dateTime BETWEEN a.dateTime AND a.expires
) x
WHERE rownum <= 1;
