/**
 * The `csv` source: one record per CSV row, from a file, a folder or a glob, plain or gzipped.
 *
 * The header row names the record's keys (or `columns` does); values stay strings unless `types`
 * asks for a type per column. A row with the wrong number of fields, a value that does not convert
 * to its column's type, or an unclosed quote at the end of the file becomes an `invalid_input`
 * record at the line where the row starts (`on_invalid: skip_row`, the default) and the rows after
 * it go on; `on_invalid: fail` stops the run with SOURCE_FAILED at file:line.
 */
import { stat } from "node:fs/promises";
import {
  BatchpipeError,
  type Checkpoint,
  cannotResume,
  checkFileCursor,
  checkInputPath,
  defineSource,
  type FilesBefore,
  gzipFailure,
  type InvalidRecord,
  invalidInput,
  invalidInputError,
  isGzipFile,
  type RecordPosition,
  resolveInputFiles,
  type SourceItem,
  stampFileCursor,
  z,
} from "@batchpipe/core/plugin";
import { type ColumnType, columnTypes, compileColumns, type ToRecord } from "./columns.js";
import { type ReadRowsOptions, type Row, readRows } from "./read-rows.js";

export const options = z
  .strictObject({
    path: z
      .string()
      .min(1)
      .meta({
        description:
          "A `.csv` or `.csv.gz` file, a folder (every `*.csv` and `*.csv.gz` in it, sorted) or a glob; relative to the spec file.",
        examples: ["./data/reviews.csv", "./data/", "./data/*.csv.gz"],
      }),
    header: z.boolean().default(true).meta({
      description:
        "Whether each file's first row is a header; its names become the record's keys unless `columns` is given.",
    }),
    columns: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .meta({
        description:
          "The record's keys, in column order; with `header: true` they replace the header's names.",
        examples: ["[id, text, stars]"],
      }),
    types: z
      .record(z.string(), z.enum(columnTypes))
      .default({})
      .meta({
        description:
          "A type per column for values that should not stay strings; an empty cell in a typed column becomes null.",
        examples: ["{ stars: integer, price: number, tags: json }"],
      }),
    delimiter: z.string().min(1).default(",").meta({
      description:
        "The field delimiter, e.g. `;` or `\\t` (a tab, however YAML quotes it: `\\t`, `'\\t'` and `\"\\t\"` are all a tab).",
    }),
    quote: z.string().length(1).default('"').meta({ description: "The quote character around fields." }),
    escape: z
      .string()
      .length(1)
      .optional()
      .meta({
        description:
          'The character that escapes a quote inside a quoted field; by default the quote itself (`""`, or `\'\'` with `quote: "\'"`).',
        examples: ["\\"],
      }),
    encoding: z
      .enum(["utf8", "latin1"])
      .default("utf8")
      .meta({ description: "The files' text encoding; a UTF-8 byte order mark is always skipped." }),
    on_invalid: z.enum(["skip_row", "fail"]).default("skip_row").meta({
      description:
        "What a malformed row does: `skip_row` makes it an `invalid_input` failure row and goes on; `fail` stops the run.",
    }),
  })
  .refine((options) => options.header || options.columns, {
    message: "without a header row (`header: false`), `columns` must name the columns",
    path: ["columns"],
  });

export type CsvSourceOptions = z.output<typeof options>;

/**
 * Where reading resumes: after the row of `file` that ends at byte `offset`, with `line` newlines
 * before it; `before`: the files read before `file`; `sample`: of the bytes read, added at
 * checkpoints (stampFileCursor). Both are absent in cursors of earlier builds.
 */
export interface CsvCursor {
  file: string;
  offset: number;
  line: number;
  before?: FilesBefore;
  sample?: string;
}

/** the data files of a folder `path` (watch mode takes the same) */
const EXTENSIONS = [".csv", ".csv.gz"];

export default defineSource({
  name: "csv",
  options,
  extensions: EXTENSIONS,
  // a glob is matched when the run reads; a plain file or folder must exist before it starts
  check: checkInputPath,
  stampCursor: stampFileCursor,
  async *read({ options, resolvePath, signal, checkpoint, logger }) {
    const { files, first, cursor, before } = await resolveInputFiles<CsvCursor>(resolvePath(options.path), {
      extensions: EXTENSIONS,
      plugin: PLUGIN,
      checkpoint,
      cursorFields: ["offset", "line"],
    });
    // YAML reads an unquoted or single-quoted \t as a backslash and a t, never a delimiter one means
    const delimiter = options.delimiter === "\\t" ? "\t" : options.delimiter;
    const parse: ReadRowsOptions = { ...options, delimiter, signal, logger };
    for (let i = first; i < files.length; i++) {
      const file = files[i]!;
      const resume = i === first ? cursor : undefined;
      const filesBefore = before(i);
      const gzip = isGzipFile(file);
      // a gzip stream cannot seek: re-read it and skip the rows already handled
      const skipThrough = resume && gzip ? resume.offset : 0;
      const seek = resume && !gzip && resume.offset > 0 ? resume : undefined;
      if (resume) await checkFileCursor(file, resume, PLUGIN);
      if (seek && (await stat(file)).size < seek.offset)
        throw cannotResume(`${file} is shorter than when it was read`, PLUGIN);
      // resuming mid-file: the header is read on its own
      let header = seek && options.header ? await readHeader(file, parse) : undefined;
      const names = options.columns ?? header;
      let toRecord = names ? compileColumns(file, 1, names, options.types) : undefined;
      let headerPending = options.header && !seek;
      const rows = readRows(file, { ...parse, start: seek?.offset ?? 0, lineBefore: seek?.line ?? 0 });
      // the lines read so far (per batch), for the error of a damaged .gz
      let reached = 0;
      try {
        for await (const batch of rows) {
          reached = batch.at(-1)?.linesBefore ?? reached;
          for (const row of batch) {
            if (headerPending) {
              headerPending = false;
              header = headerNames(file, row);
              if (options.columns) checkColumnCount(file, row.line, options.columns, header);
              toRecord = compileColumns(file, row.line, options.columns ?? header, options.types);
              continue;
            }
            if (row.end <= skipThrough) continue;
            const item = toItem(file, row, toRecord!, filesBefore, header);
            if (options.on_invalid === "fail" && "invalid" in item) throw invalidInputError(item, ON_FAIL);
            signal.throwIfAborted();
            yield item;
          }
        }
      } catch (error) {
        throw gzip ? gzipFailure(error, { file, line: reached, plugin: PLUGIN }) : error;
      }
    }
  },
});

// --- internal ---

const PLUGIN = "source:csv";
const ON_FAIL = {
  plugin: PLUGIN,
  hint: "Fix the row, or set `on_invalid: skip_row` to report it as a failed record and go on.",
};

/** `header`: the file's header row, which a row of files joined with `cat` repeats */
function toItem(
  file: string,
  row: Row,
  toRecord: ToRecord,
  before: FilesBefore,
  header: readonly string[] | undefined,
): SourceItem {
  const position = { file, line: row.line };
  const cursor: CsvCursor = { file, offset: row.end, line: row.linesBefore, before };
  if (row.fields === undefined) return invalid(`malformed CSV: ${row.error}`, position, cursor);
  if (header && repeats(row.fields, header))
    return invalid(
      "the row repeats the header row (files joined with `cat`?): it is not a record",
      position,
      cursor,
    );
  const result = toRecord(row.fields);
  if (typeof result === "string") return invalid(result, position, cursor);
  return { data: result, position, cursor: cursor as unknown as Checkpoint };
}

/** whether a row is the header again (the BOM its own file began with is still before it) */
function repeats(fields: readonly string[], header: readonly string[]): boolean {
  if (fields.length !== header.length) return false;
  const first = fields[0]!.charCodeAt(0) === 0xfeff ? fields[0]!.slice(1) : fields[0];
  return first === header[0] && fields.every((field, i) => i === 0 || field === header[i]);
}

/** the header row's names; a header csv-parse could not split stops the run */
function headerNames(file: string, row: Row): string[] {
  if (row.fields === undefined) {
    throw new BatchpipeError("SOURCE_FAILED", `the header row is not valid CSV: ${row.error}`, {
      loc: { file, line: row.line, column: 1 },
      hint: "Fix the header row, or set `header: false` and give `columns`.",
      plugin: PLUGIN,
    });
  }
  return row.fields;
}

/** `columns` renames the header's names one for one: another count would fail every row */
function checkColumnCount(file: string, line: number, columns: readonly string[], header: readonly string[]) {
  if (columns.length === header.length) return;
  throw new BatchpipeError(
    "SOURCE_FAILED",
    `\`columns\` names ${columns.length} columns (${columns.join(", ")}), but the header row has ${header.length} (${header.join(", ")})`,
    {
      loc: { file, line, column: 1 },
      hint: "Give one name per column of the header (they replace its names, in order), or leave `columns` out to use the header's.",
      plugin: PLUGIN,
    },
  );
}

async function readHeader(file: string, parse: ReadRowsOptions): Promise<string[] | undefined> {
  const rows = readRows(file, parse);
  try {
    for await (const batch of rows) return headerNames(file, batch[0]!);
    return undefined;
  } finally {
    await rows.return(undefined);
  }
}

function invalid(message: string, position: RecordPosition, cursor: CsvCursor): InvalidRecord {
  return invalidInput(message, position, cursor as unknown as Checkpoint);
}

export type { ColumnType };
