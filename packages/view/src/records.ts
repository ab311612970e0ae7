/**
 * Records pages: a scan through a run's record files (successes, then failures) from a cursor,
 * keeping the rows that match, until a page is full or a time budget is spent. The answer carries
 * the cursor to go on from, so a search through 1,000,000 records is many short requests over the
 * files, never the files in memory. A cursor is `<file index>:<byte offset>`.
 */
import type { RecordFile } from "./catalog.js";
import { lineStarts, lowerAscii, lowerAsciiText, readChunks, readLineAt } from "./line-scan.js";

export interface RecordQuery {
  /** text in the id, the input, the output or the error message (ASCII letters in any case) */
  q?: string;
  status?: "success" | "failed";
  /** a failure code (implies status failed) */
  code?: string;
}

export interface RecordSummary {
  /** where the record is: `<tag>:<byte offset>` */
  ref: string;
  id: string;
  status: string;
  code: string | null;
  /** why the model cut the answer short (max_tokens, content_filter), null for a whole one or unknown */
  cut: string | null;
  /** the start of the output (or the error message) */
  output: string;
  /** the start of the input */
  input: string;
}

export interface RecordPage {
  rows: RecordSummary[];
  /** where to go on from; null at the end of the files */
  next: string | null;
  /** bytes scanned so far (up to `next`) of all the files the query reads */
  scanned: number;
  total: number;
  /** where each file read ends (what the run had committed): `from` of a later scan of what it adds */
  ends: Partial<Record<RecordFile["tag"], number>>;
}

const PREVIEW = 160;

export function scanRecords(o: {
  files: RecordFile[];
  query: RecordQuery;
  cursor?: string;
  pageSize: number;
  /** stop scanning after this long, with fewer rows and a cursor */
  budgetMs: number;
  /** why a row's answer was cut short, if it was (read from the row by the provider) */
  cutOf?: (row: Record<string, unknown>) => string | null;
  /**
   * only the bytes from these offsets (an earlier answer's `ends`): a live run's page that has read
   * to the end reads only what the run added since, not the whole files again
   */
  from?: Partial<Record<RecordFile["tag"], number>>;
}): RecordPage {
  const wanted = o.files
    .filter((f) => fileWanted(f, o.query))
    .map((f) => ({ ...f, start: Math.min(f.limit, Math.max(f.start, o.from?.[f.tag] ?? f.start)) }));
  const ends = Object.fromEntries(wanted.map((f) => [f.tag, f.limit]));
  const total = wanted.reduce((sum, f) => sum + f.limit - f.start, 0);
  const match = matcher(o.query);
  const deadline = performance.now() + o.budgetMs;
  let [fileIndex, offset] = parseCursor(o.cursor);
  const rows: RecordSummary[] = [];
  const scannedBefore = (index: number, at: number) =>
    wanted.slice(0, index).reduce((sum, f) => sum + f.limit - f.start, 0) + at - wanted[index]!.start;

  for (; fileIndex < wanted.length; fileIndex++, offset = undefined) {
    const file = wanted[fileIndex]!;
    // a cursor never points before the run's records
    for (const chunk of readChunks(file.path, Math.max(offset ?? 0, file.start), file.limit)) {
      for (const lineStart of match.candidates(chunk.bytes)) {
        const lineEnd = chunk.bytes.indexOf(10, lineStart);
        const row = parseRow(chunk.bytes.toString("utf8", lineStart, lineEnd));
        if (!row || !match.row(row)) continue;
        rows.push(summarize(row, `${file.tag}:${chunk.start + lineStart}`, o.cutOf));
        if (rows.length >= o.pageSize) {
          const after = chunk.start + lineEnd + 1;
          const next = after < file.limit ? `${fileIndex}:${after}` : nextFile(fileIndex, wanted.length);
          return { rows, next, scanned: scannedBefore(fileIndex, after), total, ends };
        }
      }
      if (performance.now() > deadline && chunk.end < file.limit) {
        return {
          rows,
          next: `${fileIndex}:${chunk.end}`,
          scanned: scannedBefore(fileIndex, chunk.end),
          total,
          ends,
        };
      }
    }
  }
  return { rows, next: null, scanned: total, total, ends };
}

/** the record at `ref` (`<tag>:<offset>`), within what the run wrote */
export function readRecord(files: RecordFile[], ref: string): Record<string, unknown> | undefined {
  const [tag, at] = ref.split(":");
  const file = files.find((f) => f.tag === tag);
  if (!file || !(Number(at) >= file.start)) return undefined;
  const line = readLineAt(file.path, Number(at), file.limit);
  return line === undefined ? undefined : parseRow(line);
}

/** up to `perCode` failures of each code, from the start of the run's failures, within `budgetMs` */
export function failureExamples(
  files: RecordFile[],
  perCode: number,
  budgetMs: number,
): { examples: Record<string, RecordSummary[]>; complete: boolean } {
  const examples: Record<string, RecordSummary[]> = {};
  const deadline = performance.now() + budgetMs;
  const file = files.find((f) => f.tag === "e");
  if (!file) return { examples, complete: true };
  for (const chunk of readChunks(file.path, file.start, file.limit)) {
    for (const lineStart of lineStarts(chunk.bytes)) {
      const row = parseRow(chunk.bytes.toString("utf8", lineStart, chunk.bytes.indexOf(10, lineStart)));
      const code = row ? codeOf(row) : null;
      if (!row || code === null) continue;
      examples[code] ??= [];
      const list = examples[code];
      if (list.length < perCode) list.push(summarize(row, `e:${chunk.start + lineStart}`));
    }
    if (performance.now() > deadline && chunk.end < file.limit) return { examples, complete: false };
  }
  return { examples, complete: true };
}

// --- internal ---

interface Matcher {
  /** the starts of the lines of a chunk that may match (a test on the raw bytes) */
  candidates(bytes: Buffer): Iterable<number>;
  row(row: Record<string, unknown>): boolean;
}

function matcher(query: RecordQuery): Matcher {
  // the text as it appears inside a JSON string (quotes and backslashes escaped), ASCII lowercased
  const needle = query.q ? lowerAsciiText(JSON.stringify(query.q).slice(1, -1)) : "";
  const code = query.code ?? null;
  const rowMatches = (row: Record<string, unknown>) => {
    if (code !== null && codeOf(row) !== code) return false;
    if (!needle) return true;
    return [row.id, row.input, row.output, (row.error as { message?: unknown } | undefined)?.message].some(
      (field) => field !== undefined && lowerAsciiText(JSON.stringify(field) ?? "").includes(needle),
    );
  };
  if (!needle && code === null) return { candidates: lineStarts, row: rowMatches };
  const raw = Buffer.from(needle || `"code":${JSON.stringify(code)}`);
  let lowered = Buffer.alloc(0);
  return {
    *candidates(bytes) {
      let haystack = bytes;
      if (needle) {
        if (lowered.length < bytes.length) lowered = Buffer.allocUnsafeSlow(Math.max(bytes.length, 1 << 20));
        haystack = lowered.subarray(0, bytes.length);
        lowerAscii(bytes, haystack);
      }
      for (let from = 0; ; ) {
        const hit = haystack.indexOf(raw, from);
        if (hit === -1) return;
        yield bytes.lastIndexOf(10, hit) + 1;
        from = bytes.indexOf(10, hit) + 1;
        if (from === 0) return;
      }
    },
    row: rowMatches,
  };
}

function fileWanted(file: RecordFile, query: RecordQuery): boolean {
  if (query.code !== undefined || query.status === "failed") return file.tag === "e";
  if (query.status === "success") return file.tag === "s";
  return true;
}

function parseCursor(cursor: string | undefined): [number, number | undefined] {
  const m = /^(\d+):(\d+)$/.exec(cursor ?? "");
  return m ? [Number(m[1]), Number(m[2])] : [0, undefined];
}

function nextFile(index: number, count: number): string | null {
  return index + 1 < count ? `${index + 1}:0` : null;
}

function parseRow(line: string): Record<string, unknown> | undefined {
  try {
    const row = JSON.parse(line);
    return row && typeof row === "object" && !Array.isArray(row) ? row : undefined;
  } catch {
    return undefined;
  }
}

function codeOf(row: Record<string, unknown>): string | null {
  const code = (row.error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : null;
}

function summarize(
  row: Record<string, unknown>,
  ref: string,
  cutOf?: (row: Record<string, unknown>) => string | null,
): RecordSummary {
  const error = row.error as { message?: unknown } | undefined;
  return {
    ref,
    id: String(row.id),
    status: String(row.status ?? (error ? "failed" : "success")),
    code: codeOf(row),
    cut: cutOf ? cutOf(row) : null,
    output: preview(error ? error.message : row.output),
    input: preview(row.input),
  };
}

function preview(value: unknown): string {
  const text = typeof value === "string" ? value : (JSON.stringify(value) ?? "");
  return text.length > PREVIEW ? `${text.slice(0, PREVIEW)}…` : text;
}
