-- A continuously updated total per status class; groups leave when HAVING stops holding.
CREATE MATERIALIZED VIEW v AS
SELECT status / 100 AS class, country, count(*) AS n, round(sum(coalesce(amount, 0)), 2) AS total, max(ts) AS last_seen
FROM clicks
GROUP BY status / 100, country
HAVING count(*) > 3;
