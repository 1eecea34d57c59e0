-- q20, expand bid with auction: every bid of an auction in category 10,
-- with the auction's details. A regular join (no time bound: a bid may
-- come before its auction is known), so both sides stay in the join state
-- for the life of the view; the category filter runs before the auction
-- side is buffered.
CREATE MATERIALIZED VIEW q20 AS
SELECT b.auction, b.bidder, b.price, b.channel, b.url, b.dateTime AS bid_dateTime, b.extra AS bid_extra,
       a.itemName, a.description, a.initialBid, a.reserve, a.dateTime AS auction_dateTime, a.expires, a.seller, a.category, a.extra AS auction_extra
FROM bid b JOIN auction a ON b.auction = a.id
WHERE a.category = 10;
