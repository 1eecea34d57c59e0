-- q13, bounded side input join: every bid joined with the row of a small
-- static table (side_input: 10,000 keys) for its auction id modulo 10,000.
-- A lookup join: the table is indexed once, and no bid is buffered.
CREATE MATERIALIZED VIEW q13 AS
SELECT b.auction, b.bidder, b.price, b.dateTime, s.value
FROM bid b JOIN side_input s ON b.auction % 10000 = s.key;
