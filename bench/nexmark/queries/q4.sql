-- q4, average price per category: the winning (highest) bid of each
-- auction within its lifetime, then the average of those per category.
-- The subquery is a continuous aggregate over an interval join, so it
-- runs as a view of its own (q4__sub1) whose rows change with each higher
-- bid; the average reads its changelog and takes each auction's previous
-- price back out when it changes.
CREATE MATERIALIZED VIEW q4 AS
SELECT category, avg(final) AS avg_price
FROM (
  SELECT a.id, a.category, max(b.price) AS final
  FROM auction a JOIN bid b ON a.id = b.auction AND b.dateTime BETWEEN a.dateTime AND a.expires
  GROUP BY a.id, a.category
) q
GROUP BY category;
