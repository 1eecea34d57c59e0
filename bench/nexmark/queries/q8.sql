-- q8, monitor new users: people who opened an auction in the 10-second
-- window they registered in. A window join of people and auctions on
-- id = seller; one row per person and window.
CREATE MATERIALIZED VIEW q8 AS
SELECT p.id, p.name, window_start AS starttime
FROM TABLE(TUMBLE(TABLE person, DESCRIPTOR(dateTime), INTERVAL '10' SECOND)) p
JOIN TABLE(TUMBLE(TABLE auction, DESCRIPTOR(dateTime), INTERVAL '10' SECOND)) a
  ON p.id = a.seller AND p.window_start = a.window_start AND p.window_end = a.window_end
GROUP BY p.id, p.name, window_start, window_end;
