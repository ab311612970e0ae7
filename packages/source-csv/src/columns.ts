import { BatchpipeError, parseJsonExact } from "@batchpipe/core/plugin";

export const columnTypes = ["string", "number", "integer", "boolean", "json"] as const;
export type ColumnType = (typeof columnTypes)[number];

/** A row's fields → the record, or a message saying why the row is invalid. */
export type ToRecord = (fields: string[]) => Record<string, unknown> | string;

/**
 * Checks the column names of `file` (from its header at `line`, or `columns`) and returns the
 * function that turns a row into a record: names as keys, values converted where `types` asks.
 */
export function compileColumns(
  file: string,
  line: number,
  names: readonly string[],
  types: Readonly<Record<string, ColumnType>>,
): ToRecord {
  const fail = (message: string, hint: string) =>
    new BatchpipeError("SOURCE_FAILED", message, {
      loc: { file, line, column: 1 },
      hint,
      plugin: "source:csv",
    });
  const seen = new Set<string>();
  names.forEach((name, i) => {
    if (name === "") throw fail(`column ${i + 1} of the header has no name`, "Name it, or give `columns`.");
    // a key that would set the record's prototype instead of a field
    if (name === "__proto__") throw fail('the column name "__proto__" is not allowed', "Give `columns`.");
    if (seen.has(name))
      throw fail(`the column name "${name}" appears twice`, "Rename one, or give `columns`.");
    seen.add(name);
  });
  for (const name of Object.keys(types)) {
    if (!seen.has(name)) {
      throw fail(
        `\`types\` names the column "${name}", which ${file} does not have`,
        `Its columns: ${names.join(", ")}.`,
      );
    }
  }
  const converters = names.map((name) => {
    const type = Object.hasOwn(types, name) ? types[name] : undefined;
    return type === undefined || type === "string" ? undefined : CONVERTERS[type];
  });
  const count = names.length;
  return (fields) => {
    if (fields.length !== count) return `expected ${count} fields (one per column), got ${fields.length}`;
    const record: Record<string, unknown> = {};
    for (let i = 0; i < count; i++) {
      const name = names[i]!;
      const value = fields[i]!;
      const convert = converters[i];
      if (convert === undefined) record[name] = value;
      else if (value === "") record[name] = null;
      else {
        const converted = convert(value);
        if (converted === INVALID) return invalidValue(name, types[name]!, value);
        record[name] = converted;
      }
    }
    return record;
  };
}

// --- internal ---

const INVALID = Symbol("invalid");
const INTEGER = /^\s*[+-]?\d+\s*$/;
/** a decimal number, as a CSV writes one (Number() alone also took 0x1A, 0b11 and 0o17) */
const NUMBER = /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i;

/** why `value` is not of `type`; an integer too big for a number says what keeps its digits */
function invalidValue(name: string, type: ColumnType, value: string): string {
  if (type === "integer" && INTEGER.test(value))
    return `column "${name}": ${value.trim()} is past 2^53 − 1 (9007199254740991), beyond which a number loses digits; leave the column a string (no type) or type it json (which keeps such integers as strings of their digits)`;
  return `column "${name}": expected ${type}, got ${JSON.stringify(value)}`;
}

const CONVERTERS: Record<Exclude<ColumnType, "string">, (value: string) => unknown> = {
  number(value) {
    const number = NUMBER.test(value) ? Number(value) : Number.NaN;
    return Number.isFinite(number) ? number : INVALID;
  },
  integer(value) {
    const number = INTEGER.test(value) ? Number(value) : Number.NaN;
    return Number.isSafeInteger(number) ? number : INVALID;
  },
  boolean(value) {
    const text = value.trim().toLowerCase();
    return text === "true" || text === "1" ? true : text === "false" || text === "0" ? false : INVALID;
  },
  json(value) {
    try {
      // integers past 2^53 − 1 keep their digits, as in a jsonl line
      return parseJsonExact(value);
    } catch {
      return INVALID;
    }
  },
};
