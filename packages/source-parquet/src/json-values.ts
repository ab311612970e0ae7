/**
 * A decoded Parquet row → a record that survives JSON: the engine stores records and renders them
 * into request bodies, so every value must have a JSON form.
 */
export function toJsonRecord(row: Record<string, unknown>): Record<string, unknown> {
  for (const key in row) {
    const value = row[key];
    // most columns are strings, numbers and booleans: leave them in place. A null struct or list
    // column is assembled as undefined, which JSON drops: it becomes null, as a null plain column is
    if (
      typeof value === "object" ||
      typeof value === "bigint" ||
      typeof value === "number" ||
      value === undefined
    )
      row[key] = toJson(value);
  }
  return row;
}

// --- internal ---

function toJson(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "number":
      return Number.isFinite(value) ? value : null;
    case "bigint":
      return value >= MIN_SAFE && value <= MAX_SAFE ? Number(value) : value.toString();
    case "object":
      break;
    default:
      return value;
  }
  // arrays and objects are the decoder's own, one per row: converted in place
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = toJson(value[i]);
    return value;
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (ArrayBuffer.isView(value)) {
    if (value instanceof Uint8Array)
      return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64");
    return Array.from(value as unknown as ArrayLike<unknown>, toJson);
  }
  const object = value as Record<string, unknown>;
  for (const key in object) object[key] = toJson(object[key]);
  return object;
}

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
