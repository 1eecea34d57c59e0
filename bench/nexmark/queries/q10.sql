-- q10, log to the file system: every bid with its date and minute, written
-- to a lake table (Iceberg, zstd Parquet files partitioned by event day and
-- hour) instead of the blackhole sink.
CREATE MATERIALIZED VIEW q10 AS
SELECT auction, bidder, price, dateTime, extra,
       strftime(dateTime, '%Y-%m-%d') AS dt, strftime(dateTime, '%H:%M') AS hm
FROM bid;
