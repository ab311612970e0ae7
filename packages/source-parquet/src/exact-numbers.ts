/**
 * Numbers as the file holds them. hyparquet's defaults change two kinds: a DECIMAL becomes a float64
 * (unscaled × 10^-scale: DECIMAL(18,2) 90071992547409.91 arrives as 90071992547409.9), and a FLOAT
 * (32-bit) widens to the float64 of its binary value (19.99 renders as 19.989999771118164).
 *
 * - DECIMAL: a string of the exact decimal, with its scale's digits (`"90071992547409.91"`,
 *   `"5.00"`): a number would be exact only for some values, and a column whose type changed from
 *   row to row (number here, string there) would be worse. A template renders it as written.
 * - FLOAT: the number of the shortest decimal that reads back as the same float32 (19.99).
 *
 * Both convert a page's values (nested lists included) once, as it is decoded; a value already
 * converted (a repeated column's record carried into the next page) is left as it is.
 */

/** the converter of a leaf column's values, or undefined when hyparquet's are exact */
export function exactNumbers(
  element: { converted_type?: string; logical_type?: { type: string; scale?: number }; scale?: number },
  physical: string,
): ((values: unknown[] | ArrayLike<unknown>) => unknown[]) | undefined {
  if (isDecimal(element)) {
    const scale = element.scale ?? element.logical_type?.scale ?? 0;
    return (values) => mapValues(values, (v) => decimalString(v, scale));
  }
  if (physical === "FLOAT") return (values) => mapValues(values, shortestFloat32);
  return undefined;
}

export function isDecimal(element: { converted_type?: string; logical_type?: { type: string } }): boolean {
  return element.converted_type === "DECIMAL" || element.logical_type?.type === "DECIMAL";
}

/** an unscaled value (INT32, INT64 or big-endian two's complement bytes) as its decimal text */
export function decimalString(value: unknown, scale: number): unknown {
  let unscaled: bigint;
  if (typeof value === "bigint") unscaled = value;
  else if (typeof value === "number") unscaled = BigInt(value);
  else if (value instanceof Uint8Array) unscaled = fromTwosComplement(value);
  else return value;
  const negative = unscaled < 0n;
  let digits = (negative ? -unscaled : unscaled).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, "0");
    digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  } else if (scale < 0) {
    digits += "0".repeat(-scale);
  }
  return negative ? `-${digits}` : digits;
}

/** the float64 of the shortest decimal that reads back as the float32 `value` */
export function shortestFloat32(value: unknown): unknown {
  if (typeof value !== "number" || !Number.isFinite(value) || Math.fround(value) !== value) return value;
  // the fewest significant digits that round-trip (9 always do; more digits round-trip if fewer do)
  let low = 1;
  let high = 9;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (Math.fround(Number(value.toPrecision(mid))) === value) high = mid;
    else low = mid + 1;
  }
  return Number(value.toPrecision(low));
}

// --- internal ---

function mapValues(values: unknown[] | ArrayLike<unknown>, convert: (v: unknown) => unknown): unknown[] {
  const out = Array.isArray(values) ? values : Array.from(values);
  for (let i = 0; i < out.length; i++) {
    const v = out[i];
    out[i] = Array.isArray(v) ? mapValues(v, convert) : convert(v);
  }
  return out;
}

function fromTwosComplement(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  const bits = BigInt(bytes.length * 8);
  if (bytes.length > 0 && bytes[0]! >= 0x80) value -= 1n << bits;
  return value;
}
