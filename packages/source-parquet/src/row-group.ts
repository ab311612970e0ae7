import {
  type AsyncBuffer,
  type DecodedArray,
  type FileMetaData,
  parquetSchema,
  type SchemaTree,
} from "hyparquet";
import { assembleNested } from "hyparquet/src/assemble.js";
import { DEFAULT_PARSERS } from "hyparquet/src/convert.js";
import { LeafColumn } from "./column-pages.js";

export interface RowGroupRange {
  /** the top-level columns to read, in the records' key order */
  columns: readonly string[];
  /** the row group's index in the file */
  group: number;
  /** rows at the start of the group that are not returned (resume) */
  skip: number;
}

/**
 * The rows of one row group after the first `skip`, as records in batches of at most BATCH rows.
 * Columns are decoded a page at a time (column-pages.ts), so memory holds about a page of each
 * column and one batch of records, however many rows the group has. A nested column is assembled
 * into JSON-like values from the same rows of its leaf columns.
 */
export async function* readRowGroup(
  file: AsyncBuffer,
  metadata: FileMetaData,
  range: RowGroupRange,
): AsyncGenerator<Record<string, unknown>[]> {
  const schema = parquetSchema(metadata);
  const rowGroup = metadata.row_groups[range.group]!;
  const columns = range.columns.map((name) => {
    const leaves = rowGroup.columns
      .filter((chunk) => chunk.meta_data?.path_in_schema[0] === name)
      .map((chunk) => new LeafColumn(file, schema, chunk.meta_data!, range.skip));
    if (leaves.length === 0) throw new Error(`row group ${range.group} has no data for column "${name}"`);
    return { name, schema: schema.children.find((child) => child.element.name === name)!, leaves };
  });
  const leaves = columns.flatMap((column) => column.leaves);
  let remaining = Number(rowGroup.num_rows) - range.skip;
  while (remaining > 0) {
    let n = Math.min(remaining, BATCH);
    for (const leaf of leaves) n = Math.min(n, await leaf.ready());
    if (n === 0) throw new Error(`a column chunk ends before the row group's ${rowGroup.num_rows} rows`);
    const values = columns.map((column) => take(column, n));
    const rows: Record<string, unknown>[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const record: Record<string, unknown> = {};
      for (let c = 0; c < columns.length; c++) record[columns[c]!.name] = values[c]![i];
      rows[i] = record;
    }
    remaining -= n;
    yield rows;
  }
}

// --- internal ---

/**
 * The most records built at once. Small batches die young: with 1,024 the bench's peak RSS was
 * 139–143 MB, with 256 107–124 MB, and rows per CPU second rose from ~320k to ~420k
 * (bench/plugins-source-parquet.js, 100k- and 1M-row groups, load 13–16).
 */
const BATCH = 256;

/** the next `n` values of a top-level column */
function take(column: { name: string; schema: SchemaTree; leaves: LeafColumn[] }, n: number): DecodedArray {
  if (column.schema.children.length === 0) return column.leaves[0]!.take(n);
  const leaves = new Map(column.leaves.map((leaf) => [leaf.path, leaf.take(n)]));
  assembleNested(leaves, column.schema, DEFAULT_PARSERS);
  return leaves.get(column.name)!;
}
