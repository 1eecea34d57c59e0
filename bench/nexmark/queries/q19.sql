-- q19, auction top-k: the ten highest bids of every auction. A continuous
-- Top-N: each auction keeps its ten best bids, and a bid that enters at
-- rank r rewrites ranks r to 10.
CREATE MATERIALIZED VIEW q19 AS
SELECT *
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rank_number
  FROM bid
) b
WHERE rank_number <= 10;
