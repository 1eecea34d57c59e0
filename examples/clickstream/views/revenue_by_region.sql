-- Revenue per region and minute, net of VAT: each click is joined with its
-- row of the reference table countries (tables/countries.csv) as it comes.
CREATE MATERIALIZED VIEW revenue_by_region AS
SELECT window_start, window_end, c.region,
       count(*) AS purchases,
       round(sum(k.amount / (1 + coalesce(c.vat, 0))), 2) AS net_revenue
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) k
JOIN countries c ON k.country = c.code
WHERE k.url LIKE '/checkout%' AND k.amount IS NOT NULL
GROUP BY window_start, window_end, c.region;
