/**
 * The `jsonl` source: one JSON object per line, from a file, a folder or a glob, plain or gzipped,
 * or from a named pipe or standard input (`path: -`), read as a stream.
 *
 * Outcomes per line: a blank (whitespace-only) line is skipped but counted; a UTF-8 BOM at the
 * start of a file is stripped; a trailing `\r` (CRLF) is dropped; a last line without a newline is
 * still read; a line that is not valid UTF-8, not valid JSON, or a JSON value that is not an object
 * becomes an `invalid_input` record (`on_invalid: skip_row`, the default) or stops the run with
 * SOURCE_FAILED at file:line (`on_invalid: fail`). An integer past 2^53 − 1 is read as the string of
 * its digits (exact-integers.ts).
 */
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import {
  BatchpipeError,
  type Checkpoint,
  cannotResume,
  checkFileCursor,
  checkInputPath,
  defineSource,
  ErrorCodes,
  type FilesBefore,
  type InvalidRecord,
  invalidInput,
  invalidInputError,
  isGzipFile,
  isStreamInput,
  parseJsonExact,
  type RecordPosition,
  resolveInputFiles,
  type SourceItem,
  STDIN_PATH,
  stampFileCursor,
  z,
} from "@batchpipe/core/plugin";
import { type Line, readLines } from "./read-lines.js";

export const options = z.strictObject({
  path: z
    .string()
    .min(1)
    .meta({
      description:
        "A `.jsonl` or `.jsonl.gz` file, a folder (every `*.jsonl` and `*.jsonl.gz` in it, sorted), a glob, a named pipe, or `-` for standard input; relative to the spec file.",
      examples: ["./data/reviews.jsonl", "./data/", "./data/*.jsonl.gz", "-"],
    }),
  on_invalid: z.enum(["skip_row", "fail"]).default("skip_row").meta({
    description:
      "What a line that is not a JSON object does: `skip_row` makes it an `invalid_input` failure row and goes on; `fail` stops the run.",
  }),
});

export type JsonlSourceOptions = z.output<typeof options>;

/**
 * Where reading resumes: after line `line` of `file`, which ends at byte `offset`; `before`: the
 * files read before `file`; `sample`: of the bytes read, added at checkpoints (stampFileCursor). Both
 * are absent in cursors of earlier builds.
 */
export interface JsonlCursor {
  file: string;
  line: number;
  offset: number;
  before?: FilesBefore;
  sample?: string;
}

/** the data files of a folder `path` (watch mode takes the same) */
const EXTENSIONS = [".jsonl", ".jsonl.gz"];

export default defineSource({
  name: "jsonl",
  options,
  extensions: EXTENSIONS,
  // a glob is matched when the run reads; a plain file, folder or pipe must exist before it starts
  check: (ctx) => checkInputPath(ctx, { streams: true }),
  stampCursor: stampFileCursor,
  async *read({ options, resolvePath, signal, checkpoint }) {
    const path = options.path === STDIN_PATH ? STDIN_PATH : resolvePath(options.path);
    const { files, first, cursor, before } = await resolveInputFiles<JsonlCursor>(path, {
      extensions: EXTENSIONS,
      plugin: PLUGIN,
      checkpoint,
      cursorFields: ["line", "offset"],
      streams: true,
    });
    for (let i = first; i < files.length; i++) {
      const file = files[i]!;
      const resume = i === first ? cursor : undefined;
      const gzip = isGzipFile(file);
      // a pipe is read once: its records carry no cursor, so a run that stops reads it from the start
      const once = isStreamInput(file);
      const filesBefore = once ? undefined : before(i);
      if (resume && once) throw cannotResume(`${file} is a pipe, which cannot be read again`, PLUGIN);
      if (file === STDIN_PATH && process.stdin.isTTY) throw stdinIsTerminal();
      // a gzip stream cannot seek: re-read it and skip the lines already handled
      const skipThrough = resume && gzip ? resume.line : 0;
      if (resume) await checkFileCursor(file, resume, PLUGIN);
      if (resume && !gzip && (await stat(file)).size < resume.offset) {
        throw cannotResume(`${file} is shorter than when it was read`, PLUGIN);
      }
      const chunks = readLines(file, {
        start: resume && !gzip ? resume.offset : 0,
        lineBefore: resume && !gzip ? resume.line : 0,
        signal,
        plugin: PLUGIN,
        // read at run time, never at module load
        stream: file === STDIN_PATH ? process.stdin : undefined,
      });
      signal.throwIfAborted();
      for await (const lines of chunks) {
        for (const line of lines) {
          if (line.line <= skipThrough) continue;
          const item = parseLine(file, line, filesBefore);
          if (item === undefined) continue;
          if (options.on_invalid === "fail" && "invalid" in item) throw invalidInputError(item, ON_FAIL);
          signal.throwIfAborted();
          yield item;
        }
      }
    }
  },
});

// --- internal ---

/** nothing piped in: the run would wait for records typed at the terminal, without saying so */
function stdinIsTerminal(): BatchpipeError {
  return new BatchpipeError(
    ErrorCodes.SOURCE_FAILED,
    'source path "-" reads standard input, which is a terminal here: nothing is piped in',
    {
      hint: "Pipe the records in (`producer | batchpipe run pipeline.yaml`, or `batchpipe run pipeline.yaml < data.jsonl`), or set the source's path to a file or a named pipe.",
      plugin: PLUGIN,
    },
  );
}

const PLUGIN = "source:jsonl";
// the engine reads a record without a cursor as "no place to resume from": reading starts over
const NO_CURSOR = undefined;
const ON_FAIL = {
  plugin: PLUGIN,
  hint: "Fix the line, or set `on_invalid: skip_row` to report it as a failed record and go on.",
};

/** `before`: the cursor's, undefined for a pipe (its records carry no cursor) */
function parseLine(file: string, line: Line, before: FilesBefore | undefined): SourceItem | undefined {
  const position = { file, line: line.line };
  const cursor = before ? { file, line: line.line, offset: line.end, before } : NO_CURSOR;
  if (!line.utf8) return invalid("the line is not valid UTF-8", position, cursor);
  let bytes = line.bytes;
  // a BOM starts the first line of a file, and any line of files joined with `cat`
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0x0d) end--;
  const text = bytes.toString("utf8", 0, end);
  // fast path: JSON lines almost always start with `{`
  if (text.charCodeAt(0) !== 0x7b) {
    if (isBlank(text)) return undefined;
    if (text.trim() === "")
      return invalid(`invalid JSON: the line holds only ${notJsonSpace(text)}`, position, cursor);
  }
  let value: unknown;
  try {
    value = parseJsonExact(text);
  } catch (error) {
    const note = looksLikeArrayLine(text) ? `: ${jsonArrayNote(file)}` : "";
    return invalid(`invalid JSON: ${(error as Error).message}${note}`, position, cursor);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const note = Array.isArray(value) && value.some(isObject) ? `: ${jsonArrayNote(file)}` : "";
    return invalid(`expected a JSON object, got ${describe(value)}${note}`, position, cursor);
  }
  return { data: value as Record<string, unknown>, position, cursor: cursor as unknown as Checkpoint };
}

function invalid(message: string, position: RecordPosition, cursor: JsonlCursor | undefined): InvalidRecord {
  return invalidInput(message, position, cursor as unknown as Checkpoint);
}

/** empty, or only JSON's whitespace (space, tab, \r; JSON.parse refuses U+00A0 and the other Unicode spaces) */
function isBlank(text: string): boolean {
  return /^[ \t\r]*$/.test(text);
}

/** a whitespace-only line that is not blank: which characters JSON does not take as whitespace */
function notJsonSpace(text: string): string {
  const odd = [...new Set(text.replace(/[ \t\r]/g, ""))];
  const names = odd.map((c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`);
  return `whitespace JSON does not allow (${names.join(", ")}): remove it, or make the line empty`;
}

/**
 * A JSON file (one array of objects, pretty-printed or not) given as JSON Lines: its lines failed
 * as "Unexpected end of JSON input" ([), "Unexpected non-whitespace character" ({…},), never
 * saying what the file is.
 */
function looksLikeArrayLine(text: string): boolean {
  const line = text.trim();
  return line === "[" || line === "]" || line.startsWith("[{") || /^\{.*\}\s*,$/.test(line);
}

function jsonArrayNote(file: string): string {
  const name = basename(file);
  // standard input has no file name to give jq: the conversion goes in the pipe
  const convert =
    file === STDIN_PATH
      ? "pipe it through jq -c '.[]' on the way in"
      : `e.g. jq -c '.[]' ${name} > ${name.replace(/\.json$/i, "")}.jsonl`;
  return `the ${file === STDIN_PATH ? "input" : "file"} looks like a JSON array of objects, not JSON Lines (one object per line, no [ ] or commas between them); convert it, ${convert}`;
}

function isObject(value: unknown): boolean {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}
