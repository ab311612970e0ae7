/**
 * Records pages: a scan through a run's record files (successes, then failures) from a cursor,
 * keeping the rows that match, until a page is full or a time budget is spent. The answer carries
 * the cursor to go on from, so a search through 1,000,000 records is many short requests over the
 * files, never the files in memory. A cursor is `<file index>:<byte offset>`.
 */
import type { RecordFile } from "./catalog.js";
import { byteLength, readChunks, readLineAt } from "./line-scan.js";

export interface RecordQuery {
  /** text in the id, the input, the output or the error message (case-insensitive) */
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
}

const PREVIEW = 160;

export function scanRecords(o: {
  files: RecordFile[];
  query: RecordQuery;
  cursor?: string;
  pageSize: number;
  /** stop scanning after this long, with fewer rows and a cursor */
  budgetMs: number;
}): RecordPage {
  const wanted = o.files.filter((f) => fileWanted(f, o.query));
  const total = wanted.reduce((sum, f) => sum + f.limit, 0);
  const match = matcher(o.query);
  const deadline = performance.now() + o.budgetMs;
  let [fileIndex, offset] = parseCursor(o.cursor);
  const rows: RecordSummary[] = [];
  const scannedBefore = (index: number, at: number) =>
    wanted.slice(0, index).reduce((sum, f) => sum + f.limit, 0) + at;

  for (; fileIndex < wanted.length; fileIndex++, offset = 0) {
    const file = wanted[fileIndex]!;
    for (const chunk of readChunks(file.path, offset, file.limit)) {
      let at = 0;
      let bytes = chunk.start;
      for (const lineStart of match.candidates(chunk.text)) {
        bytes += byteLength(chunk.text.slice(at, lineStart));
        at = lineStart;
        const lineEnd = chunk.text.indexOf("\n", lineStart);
        const row = parseRow(chunk.text.slice(lineStart, lineEnd));
        if (row && match.row(row)) {
          rows.push(summarize(row, `${file.tag}:${bytes}`));
          if (rows.length >= o.pageSize) {
            const after = bytes + byteLength(chunk.text.slice(lineStart, lineEnd + 1));
            const next = after < file.limit ? `${fileIndex}:${after}` : nextFile(fileIndex, wanted.length);
            return { rows, next, scanned: scannedBefore(fileIndex, after), total };
          }
        }
      }
      if (performance.now() > deadline && chunk.end < file.limit) {
        return { rows, next: `${fileIndex}:${chunk.end}`, scanned: scannedBefore(fileIndex, chunk.end), total };
      }
    }
  }
  return { rows, next: null, scanned: total, total };
}

/** the record at `ref` (`<tag>:<offset>`), within what the run committed */
export function readRecord(files: RecordFile[], ref: string): Record<string, unknown> | undefined {
  const [tag, at] = ref.split(":");
  const file = files.find((f) => f.tag === tag);
  if (!file) return undefined;
  const line = readLineAt(file.path, Number(at), file.limit);
  return line === undefined ? undefined : parseRow(line);
}

/** up to `perCode` failures of each code, from the start of the failures file, within `budgetMs` */
export function failureExamples(
  files: RecordFile[],
  perCode: number,
  budgetMs: number,
): { examples: Record<string, RecordSummary[]>; complete: boolean } {
  const examples: Record<string, RecordSummary[]> = {};
  const deadline = performance.now() + budgetMs;
  const file = files.find((f) => f.tag === "e");
  if (!file) return { examples, complete: true };
  for (const chunk of readChunks(file.path, 0, file.limit)) {
    let at = 0;
    let bytes = chunk.start;
    for (const lineStart of lineStarts(chunk.text)) {
      bytes += byteLength(chunk.text.slice(at, lineStart));
      at = lineStart;
      const row = parseRow(chunk.text.slice(lineStart, chunk.text.indexOf("\n", lineStart)));
      const code = row ? codeOf(row) : null;
      if (!row || code === null) continue;
      const list = (examples[code] ??= []);
      if (list.length < perCode) list.push(summarize(row, `e:${bytes}`));
    }
    if (performance.now() > deadline && chunk.end < file.limit) return { examples, complete: false };
  }
  return { examples, complete: true };
}

// --- internal ---

interface Matcher {
  /** the starts of the lines of a chunk that may match (a cheap test on the raw text) */
  candidates(text: string): Iterable<number>;
  row(row: Record<string, unknown>): boolean;
}

function matcher(query: RecordQuery): Matcher {
  // text as it appears inside a JSON string (quotes and backslashes escaped), lowercased
  const needle = query.q ? JSON.stringify(query.q.toLowerCase()).slice(1, -1) : "";
  const code = query.code ?? null;
  const rowMatches = (row: Record<string, unknown>) => {
    if (code !== null && codeOf(row) !== code) return false;
    if (!needle) return true;
    return [row.id, row.input, row.output, (row.error as { message?: unknown } | undefined)?.message].some(
      (field) =>
        field !== undefined && JSON.stringify(field)?.toLowerCase().includes(needle) === true,
    );
  };
  if (!needle && code === null) return { candidates: lineStarts, row: rowMatches };
  const raw = needle || `"code":${JSON.stringify(code)}`;
  return {
    *candidates(text) {
      const lower = needle ? text.toLowerCase() : text;
      // lowercasing changed the length (a few Unicode letters do): test every line instead
      if (lower.length !== text.length) {
        yield* lineStarts(text);
        return;
      }
      let from = 0;
      for (;;) {
        const hit = lower.indexOf(raw, from);
        if (hit === -1) return;
        const start = text.lastIndexOf("\n", hit) + 1;
        yield start;
        from = text.indexOf("\n", hit) + 1;
        if (from === 0) return;
      }
    },
    row: rowMatches,
  };
}

function* lineStarts(text: string): Generator<number> {
  for (let start = 0; start < text.length; ) {
    yield start;
    start = text.indexOf("\n", start) + 1;
    if (start === 0) return;
  }
}

function fileWanted(file: RecordFile, query: RecordQuery): boolean {
  if (query.code !== undefined || query.status === "failed") return file.tag === "e";
  if (query.status === "success") return file.tag === "s";
  return true;
}

function parseCursor(cursor: string | undefined): [number, number] {
  const m = /^(\d+):(\d+)$/.exec(cursor ?? "");
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
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

function summarize(row: Record<string, unknown>, ref: string): RecordSummary {
  const error = row.error as { message?: unknown } | undefined;
  return {
    ref,
    id: String(row.id),
    status: String(row.status ?? (error ? "failed" : "success")),
    code: codeOf(row),
    output: preview(error ? error.message : row.output),
    input: preview(row.input),
  };
}

function preview(value: unknown): string {
  const text = typeof value === "string" ? value : (JSON.stringify(value) ?? "");
  return text.length > PREVIEW ? `${text.slice(0, PREVIEW)}…` : text;
}
