// Package lake writes streams from the log into Apache Iceberg tables of
// zstd Parquet files, partitioned by the event hour, and says which files and
// log offsets a table holds.
//
// The commit protocol (one Writer per table):
//
//  1. Read the log from the offsets recorded in the table's current snapshot
//     (summary property "weir.offsets"), buffering rows per event hour.
//  2. When the buffer reaches the roll size or age, write one Parquet file per
//     hour with a name derived from the start offsets, fsync it.
//  3. Commit the files as one Iceberg append snapshot whose summary records
//     the offsets reached; syncfs the lake so the snapshot is durable.
//
// A crash before step 3 leaves files no snapshot references: Open deletes
// them and the writer re-reads the same records from the log. A crash after
// step 3 resumes after the committed offsets. So every record is in exactly
// one committed file, or still ahead in the log — never both, never neither.
//
// This package reads the log and decodes rows with the schema package; it
// must not import the gate, the serving layer or the HTTP API.
package lake
