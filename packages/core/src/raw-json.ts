/**
 * The JSON text the engine already has for parts of a result row, so sinks need not serialise them
 * again. The engine parses every output line (the provider's `response.body`) and every shard meta
 * line (the record's `input` and `source`); a JSON `output` is parsed from the model's content
string. Their text
 * is kept on the row under a non-enumerable symbol: `JSON.stringify(row)`, `Object.keys`, spread and
 * deep-equality checks do not see it. `rowToJson` / `fieldToJson` use a piece only while the row's
 * field still holds the very value it was cut for; otherwise they fall back to JSON.stringify.
 *
 * A piece is single-line JSON (a line of the file it came from) that parses to the same value as the
 * field. Number spellings (`1.0`, `1e3`) and string escapes (`\u00e9`, `\/`) stay as the provider
 * wrote them (JSON.stringify would write `1`, `1000`, `é`, `/`). Whitespace between tokens is removed
 * where the engine sees it: a result line whose envelope has it (OpenAI's `", "` and `": "`), the
 * model's JSON output, the general scanner's finds; a line with a compact envelope is taken to have
 * a compact body, as JSON.stringify writes both (the emulator).
 */

/** Symbol.for: a row built by one copy of @batchpipe/core is understood by another */
const RAW = Symbol.for("batchpipe.rawJson");

/** the fields the engine has JSON text for */
export type RawJsonKey = "output" | "response" | "usage" | "input" | "source";

/** each field's value when its text was kept (a text counts only while the field still holds it) */
class RawPieces {
  readonly output: unknown;
  readonly response: unknown;
  readonly usage: unknown;
  readonly input: unknown;
  readonly source: unknown;
  constructor(
    row: Record<string, unknown>,
    readonly outputJson: string | undefined,
    readonly responseJson: string | undefined,
    readonly usageJson: string | undefined,
    readonly inputJson: string | undefined,
    readonly sourceJson: string | undefined,
  ) {
    this.output = row.output;
    this.response = row.response;
    this.usage = row.usage;
    this.input = row.input;
    this.source = row.source;
  }
}

type AnyRow = object;

/** reused: defineProperty reads it at once */
const DESCRIPTOR: PropertyDescriptor = { value: undefined, enumerable: false, configurable: true };

/**
 * Keep `json` as the text of `row[key]` for every key given (undefined texts are skipped). The text
 * must be compact JSON of exactly that value: the engine passes what it cut from the lines it read.
 */
export function attachRawJson<R extends AnyRow>(
  row: R,
  pieces: Partial<Record<RawJsonKey, string | undefined>>,
): R {
  const { output, response, usage, input, source } = pieces;
  if (
    output === undefined &&
    response === undefined &&
    usage === undefined &&
    input === undefined &&
    source === undefined
  )
    return row;
  const fields = row as Record<string, unknown>;
  DESCRIPTOR.value = new RawPieces(fields, output, response, usage, input, source);
  Object.defineProperty(row, RAW, DESCRIPTOR);
  DESCRIPTOR.value = undefined;
  return row;
}

/**
 * The JSON text of a result row: what `JSON.stringify(row)` gives (the same keys in the same order,
 * parsing to the same value), built from the JSON text the engine kept for `response`, `input`,
 * `source` and `output` where it has it, which costs a fraction of serialising those values again.
 */
export function rowToJson(row: AnyRow): string {
  const raw = (row as { [RAW]?: RawPieces })[RAW];
  const fields = row as Record<string, unknown>;
  if (raw === undefined || typeof fields.toJSON === "function") return JSON.stringify(row);
  const keys = Object.keys(row);
  if (isSuccessLayout(keys)) {
    const json = successJson(row as SuccessFields, raw);
    if (json !== undefined) return json;
  }
  let out = "";
  for (const key of keys) {
    const value = fields[key];
    const json = rawText(raw, key, value) ?? valueJson(value);
    if (json === undefined) continue;
    out += out === "" ? `{${keyJson(key)}${json}` : `,${keyJson(key)}${json}`;
  }
  return out === "" ? "{}" : `${out}}`;
}

/**
 * The JSON text of one field of a row (`fieldToJson(row, "response")`): `JSON.stringify(row[key])`,
 * from the engine's kept text when it has it; undefined when the field is undefined.
 */
export function fieldToJson(row: AnyRow, key: string): string | undefined {
  const value = (row as Record<string, unknown>)[key];
  const raw = (row as { [RAW]?: RawPieces })[RAW];
  return (raw === undefined ? undefined : rawText(raw, key, value)) ?? valueJson(value);
}

/**
 * The compact JSON text of the member at `path` in the JSON object `text` (which must be valid JSON:
 * the caller has parsed it), or undefined when there is none. Duplicate keys resolve as JSON.parse
 * resolves them: the last one wins.
 */
export function memberJson(text: string, path: readonly string[]): string | undefined {
  const start = skipSpace(text, 0);
  if (text.charCodeAt(start) !== LBRACE || path.length === 0) return undefined;
  hitStart = -1;
  hitEnd = -1;
  hitSpace = false;
  scanObject(text, start, path, 0);
  if (hitStart < 0) return undefined;
  return hitSpace ? compact(text, hitStart, hitEnd) : text.slice(hitStart, hitEnd);
}

/** `text` (valid JSON) without whitespace between tokens: the text itself when it has none */
export function compactJson(text: string): string {
  COMPACT_VALUE.lastIndex = 0;
  if (COMPACT_VALUE.test(text) && COMPACT_VALUE.lastIndex === text.length) return text;
  const n = text.length;
  for (let i = 0; i < n; ) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) i = stringEnd(text, i);
    else if (c <= SPACE) return compact(text, 0, n);
    else i++;
  }
  return text;
}

// --- internal ---

/** the kept text of `key` while the field still holds the value it was cut for */
function rawText(raw: RawPieces, key: string, value: unknown): string | undefined {
  switch (key) {
    case "response":
      return raw.response === value ? raw.responseJson : undefined;
    case "input":
      return raw.input === value ? raw.inputJson : undefined;
    case "usage":
      return raw.usage === value ? raw.usageJson : undefined;
    case "output":
      return raw.output === value ? raw.outputJson : undefined;
    case "source":
      return raw.source === value ? raw.sourceJson : undefined;
    default:
      return undefined;
  }
}

/** a success row's keys, in the order the engine creates them */
const SUCCESS_KEYS = [
  "id",
  "status",
  "output",
  "response",
  "usage",
  "model",
  "batch_id",
  "attempts",
  "input",
  "source",
] as const;

type SuccessFields = Record<(typeof SUCCESS_KEYS)[number], unknown>;

function isSuccessLayout(keys: string[]): boolean {
  if (keys.length !== SUCCESS_KEYS.length) return false;
  for (let i = 0; i < keys.length; i++) if (keys[i] !== SUCCESS_KEYS[i]) return false;
  return true;
}

interface Remembered {
  value: unknown;
  json: string | undefined;
}

const MODEL: Remembered = { value: undefined, json: undefined };
const BATCH: Remembered = { value: undefined, json: undefined };

/** a string's text, remembered for the next row (only strings: an object may have changed) */
function recall(slot: Remembered, value: unknown): string | undefined {
  if (typeof value !== "string") return valueJson(value);
  if (value !== slot.value) {
    slot.value = value;
    slot.json = quote(value);
  }
  return slot.json;
}

/** the engine's success row in one template (undefined when a field is left out of JSON) */
function successJson(row: SuccessFields, raw: RawPieces): string | undefined {
  const id = valueJson(row.id);
  const status = row.status === "success" ? '"success"' : valueJson(row.status);
  const output = (raw.output === row.output ? raw.outputJson : undefined) ?? valueJson(row.output);
  const response = (raw.response === row.response ? raw.responseJson : undefined) ?? valueJson(row.response);
  const usage = (raw.usage === row.usage ? raw.usageJson : undefined) ?? valueJson(row.usage);
  // the rows of a delivery share their model and batch: their text is remembered
  const model = recall(MODEL, row.model);
  const batchId = recall(BATCH, row.batch_id);
  const attempts = valueJson(row.attempts);
  const input = (raw.input === row.input ? raw.inputJson : undefined) ?? valueJson(row.input);
  const source = (raw.source === row.source ? raw.sourceJson : undefined) ?? valueJson(row.source);
  if (
    id === undefined ||
    status === undefined ||
    output === undefined ||
    response === undefined ||
    usage === undefined ||
    model === undefined ||
    batchId === undefined ||
    attempts === undefined ||
    input === undefined ||
    source === undefined
  )
    return undefined;
  return `{"id":${id},"status":${status},"output":${output},"response":${response},"usage":${usage},"model":${model},"batch_id":${batchId},"attempts":${attempts},"input":${input},"source":${source}}`;
}

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const LBRACE = 123;
const RBRACE = 125;
const LBRACKET = 91;
const RBRACKET = 93;
/** in valid JSON, a code unit <= 0x20 outside a string is whitespace */
const SPACE = 32;

/**
 * A sticky pattern for an object or array nested at most `depth` levels, without whitespace between
 * tokens when `compact` (whitespace inside strings is fine). Every repetition starts with a character
 * the one before cannot consume ("unrolled loops"), so a failed match takes linear time.
 */
function nestedValuePattern(depth: number, compact: boolean): RegExp {
  const string = String.raw`"[^"\\]*(?:\\.[^"\\]*)*"`;
  const other = compact ? String.raw`[^"{}[\]\s]*` : String.raw`[^"{}[\]]*`;
  let nested = String.raw`[{[]${other}(?:${string}${other})*[}\]]`;
  for (let level = 2; level <= depth; level++) {
    nested = String.raw`[{[]${other}(?:(?:${string}|${nested})${other})*[}\]]`;
  }
  return new RegExp(nested, "y");
}

const COMPACT_VALUE = nestedValuePattern(12, true);
const SPACED_VALUE = nestedValuePattern(12, false);

// the last hit of scanObject (module state: no allocation per call; the scan is synchronous)
let hitStart = -1;
let hitEnd = -1;
let hitSpace = false;
/** set by valueEnd when it passed whitespace outside strings */
let sawSpace = false;

/**
 * Walk the object at `i` (text[i] === "{"), recording the span of `path[depth..]` in it; returns the
 * index after its closing brace. A later duplicate of a key on the path replaces what an earlier one
 * found, as in JSON.parse.
 */
function scanObject(text: string, i: number, path: readonly string[], depth: number): number {
  i = skipSpace(text, i + 1);
  if (text.charCodeAt(i) === RBRACE) return i + 1;
  for (;;) {
    const keyEnd = stringEnd(text, i);
    const matches = keyIs(text, i, keyEnd, path[depth]!);
    i = skipSpace(text, keyEnd);
    // text[i] is the colon
    i = skipSpace(text, i + 1);
    if (matches && depth === path.length - 1) {
      sawSpace = false;
      hitStart = i;
      i = valueEnd(text, i);
      hitEnd = i;
      hitSpace = sawSpace;
    } else if (matches) {
      hitStart = -1;
      i = text.charCodeAt(i) === LBRACE ? scanObject(text, i, path, depth + 1) : valueEnd(text, i);
    } else {
      i = valueEnd(text, i);
    }
    i = skipSpace(text, i);
    if (text.charCodeAt(i) !== COMMA) return i + 1;
    i = skipSpace(text, i + 1);
  }
}

/** whether the key string text[start, end) (quotes included) is `key` */
function keyIs(text: string, start: number, end: number, key: string): boolean {
  if (end - start - 2 === key.length && text.startsWith(key, start + 1)) return true;
  // an escaped key ("b\u006fdy") is still that key
  const slash = text.indexOf("\\", start + 1);
  return slash >= 0 && slash < end && JSON.parse(text.slice(start, end)) === key;
}

/** the index after the value starting at text[i]; sets sawSpace when it contains whitespace */
function valueEnd(text: string, i: number): number {
  const first = text.charCodeAt(i);
  if (first === QUOTE) return stringEnd(text, i);
  if (first === LBRACE || first === LBRACKET) {
    // irregexp skips a nested value several times faster than a charCodeAt loop
    COMPACT_VALUE.lastIndex = i;
    if (COMPACT_VALUE.test(text)) return COMPACT_VALUE.lastIndex;
    SPACED_VALUE.lastIndex = i;
    if (SPACED_VALUE.test(text)) {
      // (or nested deeper than the compact pattern: then compaction finds nothing to remove)
      sawSpace = true;
      return SPACED_VALUE.lastIndex;
    }
    // nested deeper than the patterns
    let depth = 0;
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        i = stringEnd(text, i);
        continue;
      }
      if (c === LBRACE || c === LBRACKET) depth++;
      else if (c === RBRACE || c === RBRACKET) {
        if (--depth === 0) return i + 1;
      } else if (c <= SPACE) sawSpace = true;
      i++;
    }
  }
  // a number, true, false or null
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === COMMA || c === RBRACE || c === RBRACKET || c <= SPACE) break;
    i++;
  }
  return i;
}

/** text[i] is an opening quote: the index after its closing quote */
function stringEnd(text: string, i: number): number {
  let j = text.indexOf('"', i + 1);
  for (;;) {
    let k = j - 1;
    while (text.charCodeAt(k) === BACKSLASH) k--;
    // an even number of backslashes before the quote: it is not escaped
    if ((j - 1 - k) % 2 === 0) return j + 1;
    j = text.indexOf('"', j + 1);
  }
}

function skipSpace(text: string, i: number): number {
  while (text.charCodeAt(i) <= SPACE) i++;
  return i;
}

function compact(text: string, start: number, end: number): string {
  let out = "";
  let from = start;
  for (let i = start; i < end; ) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) i = stringEnd(text, i);
    else if (c <= SPACE) {
      out += text.slice(from, i);
      while (i < end && text.charCodeAt(i) <= SPACE) i++;
      from = i;
    } else i++;
  }
  return out + text.slice(from, end);
}

/**
 * JSON.stringify(value) for a member value (undefined for what an object leaves out). Strings without
 * characters to escape and flat plain objects (usage, source) are written here: on this path one
 * native JSON.stringify call of a small value costs more than the text it writes.
 */
function valueJson(value: unknown): string | undefined {
  switch (typeof value) {
    case "string":
      return quote(value);
    case "number":
      // String and JSON.stringify agree on finite numbers (-0 included)
      return Number.isFinite(value) ? String(value) : "null";
    case "boolean":
      return value ? "true" : "false";
    case "object":
      if (value === null) return "null";
      return flatObjectJson(value) ?? JSON.stringify(value);
    default:
      return JSON.stringify(value);
  }
}

/** characters JSON.stringify escapes: quote, backslash, controls, and (lone) surrogates */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what it looks for
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

function quote(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/** a plain object of strings, numbers, booleans and nulls; undefined for anything else */
function flatObjectJson(value: object): string | undefined {
  const proto = Object.getPrototypeOf(value);
  if (
    (proto !== Object.prototype && proto !== null) ||
    typeof (value as { toJSON?: unknown }).toJSON === "function"
  )
    return undefined;
  const fields = value as Record<string, unknown>;
  let out = "";
  for (const key of Object.keys(fields)) {
    const member = fields[key];
    let json: string;
    switch (typeof member) {
      case "string":
        json = quote(member);
        break;
      case "number":
        json = Number.isFinite(member) ? String(member) : "null";
        break;
      case "boolean":
        json = member ? "true" : "false";
        break;
      case "undefined":
      case "function":
      case "symbol":
        continue;
      default:
        if (member !== null) return undefined;
        json = "null";
    }
    out += out === "" ? `{${keyJson(key)}${json}` : `,${keyJson(key)}${json}`;
  }
  return out === "" ? "{}" : `${out}}`;
}

const KEY_JSON = new Map<string, string>();

function keyJson(key: string): string {
  let json = KEY_JSON.get(key);
  if (json === undefined) {
    json = `${quote(key)}:`;
    if (KEY_JSON.size < 256) KEY_JSON.set(key, json);
  }
  return json;
}
