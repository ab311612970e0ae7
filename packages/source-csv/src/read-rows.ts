import { isUtf8 } from "node:buffer";
import { BatchpipeError, isGzipFile, type Logger, openInputFile, refuseUtf16 } from "@batchpipe/core/plugin";
import { type CsvError, type Options, Parser } from "csv-parse";

/** A CSV row as csv-parse split it (`fields`), or a row it could not split (`error`). */
export interface Row {
  /** the line the row starts on (1-based; a quoted field can span lines) */
  line: number;
  /** newlines before `end`: the line count to resume after this row with */
  linesBefore: number;
  /** byte offset just after the row (of the decompressed stream for .gz) */
  end: number;
  fields: string[] | undefined;
  error: string | undefined;
}

export interface ReadRowsOptions {
  delimiter: string;
  quote: string;
  /** default: `quote` */
  escape?: string | undefined;
  encoding: "utf8" | "latin1";
  /** byte offset to start at; must be the start of a row (plain files only) */
  start?: number;
  /** the number of lines before `start` */
  lineBefore?: number;
  signal?: AbortSignal;
  /** warned when a quoted field left open swallows the lines after its own */
  logger?: Logger;
}

/**
 * Splits a CSV file into rows with csv-parse, yielding the rows of each read chunk together (one
 * await per chunk). csv-parse counts bytes but not lines reliably (CRLF inside a quoted field
 * counts twice), so lines are counted here from the same bytes. Memory: about one chunk plus the
 * longest row.
 */
export async function* readRows(file: string, options: ReadRowsOptions): AsyncGenerator<Row[]> {
  const gzip = isGzipFile(file);
  const base = gzip ? 0 : (options.start ?? 0);
  const lines = new LineCounter(base, gzip ? 0 : (options.lineBefore ?? 0));
  let batch: Row[] = [];
  // bytes that are not UTF-8 become U+FFFD: said once, at the first row that holds one
  const utf8 = options.encoding === "utf8" ? new Utf8Check() : undefined;
  let suspect = false;
  let warned = false;
  const add = (end: number, fields: string[] | undefined, error: string | undefined) => {
    const line = lines.row(end);
    const row: Row = { line, linesBefore: lines.count, end, fields, error };
    batch.push(row);
    if (suspect && !warned && fields?.some((field) => field.includes("\uFFFD"))) {
      warned = true;
      options.logger?.warn(`${file}:${line}: ${NOT_UTF8}`);
    }
    return row;
  };
  const parser = new RowParser(
    {
      delimiter: options.delimiter,
      quote: options.quote,
      escape: options.escape ?? options.quote,
      encoding: options.encoding,
      bom: true,
      // a row with the wrong number of fields or stray quotes is still split, and judged by the caller
      relax_column_count: true,
      relax_quotes: true,
      // given, not discovered: csv-parse re-encodes "\r\n" for every byte while it discovers
      record_delimiter: ["\r\n", "\n"],
      skip_empty_lines: true,
      skip_records_with_error: true,
      on_skip: (error: CsvError | undefined) => {
        // with the relaxed options above, only the end of the file leaves a row unsplit
        const row = add(ending ? fed : base + parser.info.bytes, undefined, undefined);
        // a quote left open swallows every line after it: say which, and warn (one failure row hides them)
        const last = lines.count + (lastByte === NEWLINE ? 0 : 1);
        row.error = describe(error, row.line, last);
        if (last > row.line) options.logger?.warn(`${file}:${row.line}: ${row.error}`);
      },
    },
    (fields) => add(base + parser.info.bytes, fields, undefined),
  );
  let failed: unknown;
  let fed = base;
  let ending = false;
  let lastByte: number | undefined;
  parser.on("error", (error) => {
    failed = error;
  });
  const stream = openInputFile(file, { start: base, signal: options.signal });
  let first = base === 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (first) checkStart(file, chunk);
      first = false;
      lines.push(chunk);
      fed += chunk.length;
      lastByte = chunk[chunk.length - 1];
      if (utf8 && !suspect) suspect = utf8.invalid(chunk);
      parser.write(chunk);
      if (failed) throw failed;
      if (batch.length > 0) {
        yield batch;
        batch = [];
      }
    }
    // a sequence left open at the end of the file
    if (utf8?.open) suspect = true;
    await new Promise<void>((resolve, reject) => {
      parser.once("finish", resolve);
      parser.once("error", reject);
      ending = true;
      parser.end();
    });
    if (batch.length > 0) yield batch;
  } finally {
    stream.destroy();
    parser.destroy();
  }
}

// --- internal ---

const NEWLINE = 0x0a;
const CR = 0x0d;
const NOT_UTF8 =
  "the file holds bytes that are not valid UTF-8 (the first in this row), read as U+FFFD (\uFFFD). " +
  "If it is Latin-1 or Windows-1252 (a CSV saved by Excel on Windows), set `encoding: latin1` in the source and run again";

/** Whether read chunks hold bytes that are not UTF-8; a character cut by a chunk's end is checked with the next. */
class Utf8Check {
  /** the start of a character the last chunk ended inside */
  private tail: Buffer | undefined;

  get open(): boolean {
    return this.tail !== undefined;
  }

  invalid(chunk: Buffer): boolean {
    const bytes = this.tail ? Buffer.concat([this.tail, chunk]) : chunk;
    this.tail = undefined;
    if (isUtf8(bytes)) return false;
    const cut = openCharacter(bytes);
    if (cut < bytes.length) this.tail = Buffer.from(bytes.subarray(cut));
    return !isUtf8(bytes.subarray(0, cut));
  }
}

/** where a multi-byte character that `bytes` ends inside starts; bytes.length when none does */
function openCharacter(bytes: Buffer): number {
  for (let i = bytes.length - 1; i >= 0 && i >= bytes.length - 3; i--) {
    const byte = bytes[i]!;
    if (byte < 0x80) break;
    if (byte >= 0xc0) {
      const size = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
      return bytes.length - i < size ? i : bytes.length;
    }
  }
  return bytes.length;
}

/**
 * csv-parse's stream, with each record handed to `onRow` as it is split (when `info.bytes` is
 * its end) instead of queued on the readable side: no per-record info object, no stream buffer.
 */
class RowParser extends Parser {
  constructor(
    options: Options,
    private readonly onRow: (fields: string[]) => void,
  ) {
    super(options);
  }

  override push(record: unknown): boolean {
    if (record === null) return super.push(null);
    this.onRow(record as string[]);
    return true;
  }
}

/** Line numbers for byte offsets, from the chunks read so far (those already counted are dropped). */
class LineCounter {
  private chunks: Buffer[] = [];
  /** absolute offset of chunks[0] */
  private chunkStart: number;
  /** absolute offset counted up to */
  private at: number;
  /** newlines before `at` */
  private lines: number;

  constructor(start: number, lineBefore: number) {
    this.chunkStart = start;
    this.at = start;
    this.lines = lineBefore;
  }

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  /** newlines counted so far */
  get count(): number {
    return this.lines;
  }

  /** the line the row ending at `end` starts on (after any blank lines); counts up to `end` */
  row(end: number): number {
    this.skipBlank(end);
    const line = this.lines + 1;
    this.countTo(end);
    return line;
  }

  private skipBlank(end: number): void {
    while (this.at < end) {
      const byte = this.byteAt(this.at);
      if (byte !== NEWLINE && byte !== CR) return;
      if (byte === NEWLINE) this.lines++;
      this.at++;
    }
  }

  private countTo(end: number): void {
    while (this.at < end && this.chunks.length > 0) {
      const chunk = this.chunks[0]!;
      const chunkEnd = this.chunkStart + chunk.length;
      const stop = Math.min(end, chunkEnd) - this.chunkStart;
      let from = this.at - this.chunkStart;
      for (let i = chunk.indexOf(NEWLINE, from); i !== -1 && i < stop; i = chunk.indexOf(NEWLINE, from)) {
        this.lines++;
        from = i + 1;
      }
      this.at = this.chunkStart + stop;
      if (this.at === chunkEnd) {
        this.chunks.shift();
        this.chunkStart = chunkEnd;
      }
    }
  }

  private byteAt(offset: number): number | undefined {
    let start = this.chunkStart;
    for (const chunk of this.chunks) {
      if (offset < start + chunk.length) return chunk[offset - start];
      start += chunk.length;
    }
    return undefined;
  }
}

/** why a row could not be split; `line` to `last`: the lines it spans (to the end of the file) */
function describe(error: CsvError | undefined, line: number, last: number): string {
  if (error?.code !== "CSV_QUOTE_NOT_CLOSED") return error?.code ?? "the row cannot be split into fields";
  if (last <= line) return "a quoted field is still open at the end of the file";
  const count = (n: number) => n.toLocaleString("en-US");
  return (
    `the row on line ${count(line)} opens a quoted field that is never closed: lines ${count(line)} to ${count(last)} ` +
    `(the end of the file) were read as this one row, so the ${count(last - line)} lines after line ${count(line)} are not records. ` +
    'Close the quote (a quote inside a quoted field is written ""), or set `quote` to a character the data does not use, and run again'
  );
}

/** refuses a file no row of which could be read right: UTF-16, or lines ended by a lone \r */
function checkStart(file: string, chunk: Buffer): void {
  refuseUtf16(file, chunk, { plugin: "source:csv", ext: "csv" });
  // a lone \r (old Mac line ends) does not end a row: the whole file would be one (header) row, and
  // its records would vanish without a failure. A first chunk without any \n but with a \r before
  // more text is such a file (a header or first row longer than a chunk is not plausible)
  const cr = chunk.indexOf(CR);
  if (cr !== -1 && cr < chunk.length - 1 && chunk.indexOf(NEWLINE) === -1) {
    throw new BatchpipeError(
      "SOURCE_FAILED",
      `${file} ends its lines with a lone \\r (classic Mac line ends), which does not end a CSV row: the whole file would read as one row`,
      {
        loc: { file, line: 1, column: cr + 1 },
        hint: "Convert the line ends to \\n first, e.g. `tr '\\r' '\\n' < in.csv > out.csv`, and run again.",
        plugin: "source:csv",
      },
    );
  }
}
