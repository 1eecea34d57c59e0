-- partitions: 4
-- A continuous Top-N: each country's three largest amounts so far (NULL
-- amounts last; equal amounts rank by input position). An upsert view
-- keyed by country and row number.
CREATE MATERIALIZED VIEW v AS
SELECT country, rn, user_id, amount, ts
FROM (
  SELECT country, user_id, amount, ts, ROW_NUMBER() OVER (PARTITION BY country ORDER BY amount DESC) AS rn
  FROM clicks
  WHERE status < 500
) t
WHERE rn <= 3;
