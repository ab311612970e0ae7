import { type AsyncBuffer, type ColumnData, type FileMetaData, parquetRead } from "hyparquet";
import { compressors } from "hyparquet-compressors";

export interface RowGroupRange {
  /** the top-level columns to read, in the records' key order */
  columns: readonly string[];
  /** first row (file index) to yield */
  rowStart: number;
  /** row (file index) after the last one; the end of a row group */
  rowEnd: number;
}

/**
 * Reads rows [rowStart, rowEnd) of one row group with hyparquet and returns them as records, built
 * one at a time from the decoded column chunks as they are taken (hyparquet's own row objects for
 * the whole group cost about as much CPU again as decoding).
 */
export async function readRowGroup(
  file: AsyncBuffer,
  metadata: FileMetaData,
  range: RowGroupRange,
): Promise<Iterable<Record<string, unknown>>> {
  const chunks = new Map<string, ColumnData[]>(range.columns.map((column) => [column, []]));
  await parquetRead({
    file,
    metadata,
    columns: [...range.columns],
    rowStart: range.rowStart,
    rowEnd: range.rowEnd,
    compressors,
    onChunk: (chunk) => chunks.get(chunk.columnName)?.push(chunk),
  });
  return rows(range, chunks);
}

// --- internal ---

function* rows(range: RowGroupRange, chunks: Map<string, ColumnData[]>): Generator<Record<string, unknown>> {
  const columns = range.columns.map((name) => ({ name, chunks: chunks.get(name)!, at: 0 }));
  for (let row = range.rowStart; row < range.rowEnd; row++) {
    const record: Record<string, unknown> = {};
    for (const column of columns) {
      // chunks come in row order and may start before rowStart
      let chunk = column.chunks[column.at]!;
      while (chunk.rowEnd <= row) {
        // a chunk fully taken can be collected while the rest of the group is yielded
        column.chunks[column.at] = undefined as never;
        chunk = column.chunks[++column.at]!;
      }
      record[column.name] = chunk.columnData[row - chunk.rowStart];
    }
    yield record;
  }
}
