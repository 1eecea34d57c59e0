"""Reads a Weir lake table with pyiceberg (an engine that is not Weir) and
prints its row count, distinct and summed `seq`, and the offsets of the
current snapshot, as JSON. Used by test/e2e to prove the table is open."""
import glob, json, os, sys

from pyiceberg.table import StaticTable

table_dir = sys.argv[1]
metas = glob.glob(os.path.join(table_dir, "metadata", "v*.metadata.json"))
latest = max(metas, key=lambda p: int(os.path.basename(p)[1:].split(".")[0]))
t = StaticTable.from_metadata(os.path.abspath(latest))
rows = t.scan().to_arrow()
seq = rows.column("seq").to_pylist()
print(json.dumps({
    "rows": rows.num_rows,
    "distinct_seq": len(set(seq)),
    "sum_seq": sum(seq),
    "offsets": json.loads(t.current_snapshot().summary.additional_properties["weir.offsets"]),
}))
