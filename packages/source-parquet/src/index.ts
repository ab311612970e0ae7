/**
 * The `parquet` source: one record per row, from a Parquet file, a folder or a glob, on hyparquet
 * (snappy, gzip, zstd, brotli and lz4 through hyparquet-compressors).
 *
 * Row groups are read one at a time and each column a page at a time (row-group.ts), so memory holds
 * about a page of each column whatever the size of the file or of its row groups. Nested
 * (struct) and list columns become JSON objects and arrays a template can use (`{{ meta.tags[0] }}`);
 * the values JSON has no form for become: 64-bit integers → numbers (strings beyond 2^53),
 * timestamps and dates → ISO 8601 strings, binary → base64.
 */
import {
  BatchpipeError,
  type Checkpoint,
  cannotResume,
  checkInputPath,
  defineSource,
  type FilesBefore,
  resolveInputFiles,
  type SourceRecord,
  z,
} from "@batchpipe/core/plugin";
import { type AsyncBuffer, type FileMetaData, parquetMetadataAsync, parquetSchema } from "hyparquet";
import { type FileBuffer, openFileBuffer } from "./file-buffer.js";
import { toJsonRecord } from "./json-values.js";
import { readRowGroup } from "./row-group.js";

export const options = z.strictObject({
  path: z
    .string()
    .min(1)
    .meta({
      description:
        "A `.parquet` file, a folder (every `*.parquet` in it, sorted) or a glob; relative to the spec file.",
      examples: ["./data/reviews.parquet", "./data/", "./data/part-*.parquet"],
    }),
  columns: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .meta({
      description: "The top-level columns to read (all when absent); the others are never decoded.",
      examples: ["[id, text, meta]"],
    }),
});

export type ParquetSourceOptions = z.output<typeof options>;

/**
 * Where reading resumes: after row `row` (0-based) of `file`; `before`: the files read before
 * `file` (absent in cursors of earlier builds).
 */
export interface ParquetCursor {
  file: string;
  row: number;
  before?: FilesBefore;
}

export default defineSource({
  name: "parquet",
  options,
  // a glob is matched when the run reads; a plain file or folder must exist before it starts
  check: checkInputPath,
  async *read({ options, resolvePath, signal, checkpoint }) {
    const { files, first, cursor, before } = await resolveInputFiles<ParquetCursor>(
      resolvePath(options.path),
      {
        extensions: [".parquet"],
        plugin: PLUGIN,
        checkpoint,
        cursorFields: ["row"],
      },
    );
    for (let i = first; i < files.length; i++) {
      const file = files[i]!;
      const { buffer, metadata } = await openParquet(file);
      try {
        const columns = selectColumns(file, metadata, options.columns);
        const next = i === first && cursor ? cursor.row + 1 : 0;
        if (next > Number(metadata.num_rows))
          throw cannotResume(`${file} has fewer rows than when it was read`, PLUGIN);
        for await (const batch of readFile(file, buffer, metadata, { columns, next, before: before(i) })) {
          for (const item of batch) {
            signal.throwIfAborted();
            yield item;
          }
        }
      } finally {
        await buffer.close();
      }
    }
  },
});

// --- internal ---

const PLUGIN = "source:parquet";

/** the records of `file` from row `next` on, in batches (one promise per batch, not per record) */
async function* readFile(
  file: string,
  buffer: AsyncBuffer,
  metadata: FileMetaData,
  { columns, next, before }: { columns: readonly string[]; next: number; before: FilesBefore },
): AsyncGenerator<SourceRecord[]> {
  let groupStart = 0;
  for (const [group, rowGroup] of metadata.row_groups.entries()) {
    const groupEnd = groupStart + Number(rowGroup.num_rows);
    let row = Math.max(groupStart, next);
    const skip = row - groupStart;
    groupStart = groupEnd;
    if (row >= groupEnd) continue;
    const batches = readRowGroup(buffer, metadata, { columns, group, skip });
    for (;;) {
      const batch = await batches.next().catch((error: unknown) => {
        throw new BatchpipeError(
          "SOURCE_FAILED",
          `cannot read row group ${group} of ${file}: ${message(error)}`,
          {
            hint: "The file may be damaged or use an encoding hyparquet does not read.",
            plugin: PLUGIN,
            cause: error,
          },
        );
      });
      if (batch.done) break;
      const items: SourceRecord[] = new Array(batch.value.length);
      for (const [i, data] of batch.value.entries()) {
        const cursor: ParquetCursor = { file, row, before };
        row++;
        items[i] = {
          data: toJsonRecord(data),
          position: { file, line: row },
          cursor: cursor as unknown as Checkpoint,
        };
      }
      yield items;
    }
  }
}

async function openParquet(file: string): Promise<{ buffer: FileBuffer; metadata: FileMetaData }> {
  let buffer: FileBuffer | undefined;
  try {
    buffer = await openFileBuffer(file);
    return { buffer, metadata: await parquetMetadataAsync(buffer) };
  } catch (error) {
    await buffer?.close();
    throw new BatchpipeError("SOURCE_FAILED", `${file} is not a readable Parquet file: ${message(error)}`, {
      hint: "Check `path`; the file may be damaged or still being written.",
      plugin: PLUGIN,
      cause: error,
    });
  }
}

/** the columns to read: `columns` (each checked to be in the file) or all top-level ones */
function selectColumns(
  file: string,
  metadata: FileMetaData,
  columns: readonly string[] | undefined,
): string[] {
  const names = parquetSchema(metadata).children.map((child) => child.element.name);
  if (!columns) return names;
  const missing = columns.filter((column) => !names.includes(column));
  if (missing.length > 0) {
    throw new BatchpipeError(
      "SOURCE_FAILED",
      `${file} has no column ${missing.map((c) => `"${c}"`).join(", ")}`,
      {
        hint: `Its columns: ${names.join(", ")}.`,
        plugin: PLUGIN,
      },
    );
  }
  return [...columns];
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
