/**
 * A code frame: the lines around a position, with a caret under it (Rollup/Babel shape).
 *
 *      3 | sinks:
 *    > 4 |   - use: jsonll
 *        |          ^^^^^^
 *      5 |     path: out.jsonl
 */
export interface CodeFrameOptions {
  /** lines shown before and after (default 2) */
  context?: number;
  /** carets to draw (default 1); clipped to the end of the line */
  length?: number;
}

export function codeFrame(
  text: string,
  line: number,
  column: number,
  options: CodeFrameOptions = {},
): string {
  const context = options.context ?? 2;
  const lines = text.split(/\r?\n/);
  // the line after a final newline is not a line the user wrote
  if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop();
  if (line < 1 || line > lines.length) return "";
  const first = Math.max(1, line - context);
  const last = Math.min(lines.length, line + context);
  const width = String(last).length;
  const out: string[] = [];
  for (let number = first; number <= last; number++) {
    const content = lines[number - 1]!;
    const gutter = String(number).padStart(width);
    out.push(`${number === line ? ">" : " "} ${gutter} |${content ? ` ${content}` : ""}`);
    if (number === line) {
      const room = Math.max(1, content.length - (column - 1));
      const carets = Math.max(1, Math.min(options.length ?? 1, room));
      out.push(`  ${" ".repeat(width)} | ${" ".repeat(Math.max(0, column - 1))}${"^".repeat(carets)}`);
    }
  }
  return out.join("\n");
}
