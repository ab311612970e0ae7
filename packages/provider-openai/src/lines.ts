/**
 * Lines of a downloaded result file with a length cap: a runaway or endless line (a broken proxy,
 * a corrupt file) is skipped as `{ tooLong }` once it passes `maxBytes`, never held whole, so one
 * bad line cannot run the process out of memory on every resume.
 */
export type BoundedLine = { text: string } | { tooLong: number };

export async function* boundedLines(
  input: AsyncIterable<Buffer>,
  maxBytes: number,
): AsyncGenerator<BoundedLine> {
  let parts: Buffer[] = [];
  let size = 0;
  /** bytes of the current line, counted on while it is being skipped */
  let skipped = -1;
  const end = (): BoundedLine => {
    const line: BoundedLine = skipped >= 0 ? { tooLong: skipped } : { text: withoutCR(joined()) };
    parts = [];
    size = 0;
    skipped = -1;
    return line;
  };
  // a line inside one chunk (most are) is decoded from it without a copy
  const joined = () =>
    parts.length === 1 ? parts[0]!.toString("utf8") : Buffer.concat(parts, size).toString("utf8");
  for await (const chunk of input) {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(10, start);
      const piece = chunk.subarray(start, newline === -1 ? chunk.length : newline);
      if (skipped >= 0) skipped += piece.length;
      else if (size + piece.length > maxBytes) {
        skipped = size + piece.length;
        parts = [];
        size = 0;
      } else if (piece.length > 0) {
        parts.push(piece);
        size += piece.length;
      }
      if (newline === -1) break;
      yield end();
      start = newline + 1;
    }
  }
  if (skipped >= 0 || size > 0) yield end();
}

function withoutCR(text: string): string {
  return text.charCodeAt(text.length - 1) === 13 ? text.slice(0, -1) : text;
}
