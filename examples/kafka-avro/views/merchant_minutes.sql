-- Per merchant and currency, each minute: payments and their total.
CREATE MATERIALIZED VIEW merchant_minutes AS
SELECT window_start, window_end, merchant, currency, count(*) AS payments, sum(amount) AS total
FROM TABLE(TUMBLE(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, merchant, currency;
