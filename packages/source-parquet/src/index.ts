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
import { createHash } from "node:crypto";
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
 * `file`; `footer`: a hash of the file's footer (its row groups, their sizes and statistics), which
 * a rewritten file does not keep. Both are absent in cursors of earlier builds (not checked).
 */
export interface ParquetCursor {
  file: string;
  row: number;
  before?: FilesBefore;
  footer?: string;
}

/** the data files of a folder `path` (watch mode takes the same) */
const EXTENSIONS = [".parquet"];

export default defineSource({
  name: "parquet",
  options,
  extensions: EXTENSIONS,
  // a glob is matched when the run reads; a plain file or folder must exist before it starts
  check: checkInputPath,
  async *read({ options, resolvePath, signal, checkpoint }) {
    const { files, first, cursor, before } = await resolveInputFiles<ParquetCursor>(
      resolvePath(options.path),
      {
        extensions: EXTENSIONS,
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
        const footer = await footerHash(buffer);
        if (i === first && typeof cursor?.footer === "string" && cursor.footer !== footer)
          throw fileRewritten(file);
        const at = { columns, next, before: before(i), footer };
        for await (const batch of readFile(file, buffer, metadata, at)) {
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
  at: { columns: readonly string[]; next: number; before: FilesBefore; footer: string },
): AsyncGenerator<SourceRecord[]> {
  let groupStart = 0;
  for (const [group, rowGroup] of metadata.row_groups.entries()) {
    const groupEnd = groupStart + Number(rowGroup.num_rows);
    let row = Math.max(groupStart, at.next);
    const skip = row - groupStart;
    groupStart = groupEnd;
    if (row >= groupEnd) continue;
    const batches = readRowGroup(buffer, metadata, { columns: at.columns, group, skip });
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
        const cursor: ParquetCursor = { file, row, before: at.before, footer: at.footer };
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
  const hint = "Check `path`; the file may be damaged or still being written.";
  let buffer: FileBuffer | undefined;
  try {
    buffer = await openFileBuffer(file);
    // hyparquet would read the footer's length before its end: a RangeError about a DataView
    if (buffer.byteLength < MIN_SIZE) {
      const size = buffer.byteLength === 0 ? "empty (0 bytes)" : `only ${buffer.byteLength} bytes`;
      throw new BatchpipeError(
        "SOURCE_FAILED",
        `${file} is ${size}: a Parquet file ends with its footer, which this one lacks`,
        { hint, plugin: PLUGIN },
      );
    }
    return { buffer, metadata: await parquetMetadataAsync(buffer) };
  } catch (error) {
    await buffer?.close();
    if (error instanceof BatchpipeError) throw error;
    throw new BatchpipeError("SOURCE_FAILED", `${file} is not a readable Parquet file: ${message(error)}`, {
      hint,
      plugin: PLUGIN,
      cause: error,
    });
  }
}

/** "PAR1", the footer's length, "PAR1": the least a Parquet file holds */
const MIN_SIZE = 12;

/** a hash of the file's footer (its metadata), which lists its row groups with their sizes and offsets */
async function footerHash(buffer: AsyncBuffer): Promise<string> {
  const size = buffer.byteLength;
  const length = new DataView(await buffer.slice(size - 8, size)).getUint32(0, true);
  const footer = await buffer.slice(Math.max(0, size - 8 - length), size - 8);
  return createHash("sha256").update(new Uint8Array(footer)).digest("hex").slice(0, 32);
}

function fileRewritten(file: string): BatchpipeError {
  return new BatchpipeError(
    "SOURCE_FAILED",
    `cannot resume: ${file} changed since it was read: its footer (row groups, sizes, statistics) is not the one read`,
    {
      hint: "Resuming at the old row would mix old and new rows. Restore the file as it was and run again; or `batchpipe cancel` the run and run again: the result cache answers the requests that already succeeded.",
      plugin: PLUGIN,
    },
  );
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
