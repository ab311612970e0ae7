/**
 * Integers past 2^53 − 1 (ids, order and account numbers) lose digits in JSON.parse:
 * 12345678901234567891 becomes 12345678901234567000, and a prompt would carry the wrong number.
 * Such an integer is read as the string of its digits instead, as the parquet source reads a
 * 64-bit integer past 2^53: same digits in a template, quoted in JSON. The jsonl source's lines
 * and the csv source's `json` columns are read this way.
 */

/**
 * JSON.parse, with each integer literal past 2^53 − 1 read as the string of its digits. Only a
 * value that holds such a number is parsed twice (the walk that tells costs ~0.1 µs a small record).
 * Throws JSON.parse's SyntaxError for text that is not JSON.
 */
export function parseJsonExact(text: string): unknown {
  const value: unknown = JSON.parse(text);
  return mayHaveRoundedIntegers(value) ? parseWithExactIntegers(text) : value;
}

// --- internal ---

/** does the parsed value hold a number JSON.parse may have rounded? */
function mayHaveRoundedIntegers(value: unknown): boolean {
  if (typeof value === "number") return value >= LIMIT || value <= -LIMIT;
  if (typeof value !== "object" || value === null) return false;
  for (const key in value) {
    if (mayHaveRoundedIntegers((value as Record<string, unknown>)[key])) return true;
  }
  return false;
}

/**
 * JSON.parse of `text` with each integer literal outside the safe range read as the string of its
 * digits (a number with a fraction or an exponent stays a number: it is a float by its writing).
 */
function parseWithExactIntegers(text: string): unknown {
  let out = "";
  let copied = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(text, i);
      continue;
    }
    if (c !== MINUS && !(c >= ZERO && c <= NINE)) {
      i++;
      continue;
    }
    let end = i + 1;
    while (end < text.length && isNumberChar(text.charCodeAt(end))) end++;
    const literal = text.slice(i, end);
    if (/^-?\d+$/.test(literal) && !Number.isSafeInteger(Number(literal))) {
      out += `${text.slice(copied, i)}"${literal}"`;
      copied = end;
    }
    i = end;
  }
  return JSON.parse(copied === 0 ? text : out + text.slice(copied));
}

const LIMIT = 2 ** 53;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

/** the index after the string literal that starts at `start` */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) i += 2;
    else if (c === QUOTE) return i + 1;
    else i++;
  }
  return i;
}

function isNumberChar(c: number): boolean {
  return (c >= ZERO && c <= NINE) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === MINUS;
}
