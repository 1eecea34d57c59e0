-- q1, currency conversion: every bid with its price in euros (× 0.908).
CREATE MATERIALIZED VIEW q1 AS
SELECT auction, bidder, 0.908 * price AS price, dateTime, extra FROM bid;
