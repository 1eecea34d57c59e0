-- q3, local item suggestion: auctions in category 10 whose sellers live in
-- Oregon, Idaho or California. A regular join: every person is kept (any
-- of them may sell later), and auctions for sellers not seen yet wait.
CREATE MATERIALIZED VIEW q3 AS
SELECT p.name, p.city, p.state, a.id
FROM auction a JOIN person p ON a.seller = p.id
WHERE a.category = 10 AND (p.state = 'OR' OR p.state = 'ID' OR p.state = 'CA');
