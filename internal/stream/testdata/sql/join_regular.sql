-- partitions: 4
-- A regular join (state kept for the life of the view) feeding a
-- continuous aggregate: per user, pairs of clicks on the same URL.
CREATE MATERIALIZED VIEW v AS
SELECT a.user_id, count(*) AS pairs, max(b.status) AS worst
FROM clicks a JOIN clicks b ON a.user_id = b.user_id AND a.url = b.url
GROUP BY a.user_id;
