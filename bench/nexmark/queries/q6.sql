-- q6, average selling price per seller: the mean winning price of each
-- seller's last 10 closed auctions. Three steps, each a view of its own:
-- every auction's winning (highest) bid within its lifetime, as in q4 (a
-- continuous aggregate: its rows change with each higher bid); the 10
-- auctions of each seller that close last (a Top-N over that changelog,
-- which keeps every auction of the seller, so that an auction leaving the
-- last 10 makes room for the next); and the average over those ranked
-- rows, which takes each row's previous price back out when it changes.
-- Ties on closing time go to the higher auction id.
CREATE MATERIALIZED VIEW q6 AS
SELECT seller, avg(final) AS avg_price
FROM (
  SELECT seller, final
  FROM (
    SELECT seller, final, ROW_NUMBER() OVER (PARTITION BY seller ORDER BY expires DESC, id DESC) AS rownum
    FROM (
      SELECT a.id, a.seller, a.expires, max(b.price) AS final
      FROM auction a JOIN bid b ON a.id = b.auction AND b.dateTime BETWEEN a.dateTime AND a.expires
      GROUP BY a.id, a.seller, a.expires
    ) w
  ) r
  WHERE rownum <= 10
) t
GROUP BY seller;
