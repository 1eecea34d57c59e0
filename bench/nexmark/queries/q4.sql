-- q4, average price per category: the winning (highest) bid of each
-- auction within its lifetime, then the average of those per category.
-- Two views: the first is a continuous aggregate over an interval join
-- (an auction's row changes with each higher bid); the second reads its
-- changelog and takes each auction's previous price back out of the
-- average when it changes.
CREATE MATERIALIZED VIEW q4_winning AS
SELECT a.id, a.category, max(b.price) AS final
FROM auction a JOIN bid b ON a.id = b.auction AND b.dateTime BETWEEN a.dateTime AND a.expires
GROUP BY a.id, a.category;

CREATE MATERIALIZED VIEW q4 AS
SELECT category, avg(final) AS avg_price
FROM q4_winning
GROUP BY category;
