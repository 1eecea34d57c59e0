-- Filter and project: every matching click, cleaned.
CREATE MATERIALIZED VIEW v AS
SELECT ts, upper(user_id) AS who, CASE WHEN url LIKE '/search%' THEN 'search' WHEN url IN ('/cart', '/pay') THEN 'buy' ELSE 'browse' END AS kind,
       CAST(amount AS BIGINT) AS whole, amount * 1.2 AS gross, length(url) AS len, date_trunc('minute', ts) AS minute,
       ts + INTERVAL '1' HOUR AS later, status BETWEEN 400 AND 499 AS client_error, country || '-' || status AS tag
FROM clicks
WHERE amount IS NOT NULL AND (status = 200 OR country <> 'US') AND NOT user_id IN ('eve', 'fay');
