import { stripAnsi } from "./context.js";

/**
 * citty renders a command's options and subcommands as a table, one row a line, every row padded to
 * the longest one: watch's description made each line of `batchpipe --help` 234 columns wide, and an
 * 80-column terminal broke every row in two at column 80 with a blank run of padding after it.
 * wrapUsage wraps each row's description under itself, at the terminal's width (80 when not a TTY).
 */

/** the width help is wrapped to: the terminal's, else 80; never under 40 */
export function usageWidth(stream: { isTTY?: boolean; columns?: number }): number {
  const columns = stream.isTTY ? stream.columns : undefined;
  return Math.max(40, columns && columns > 0 ? columns : 80);
}

export function wrapUsage(text: string, width: number): string {
  return text
    .split("\n")
    .map((line) => wrapLine(line.trimEnd(), width))
    .join("\n");
}

// --- internal ---

/** a table row: its first cell (option or command) and the gap of 2+ spaces before its description */
const ROW = /^(\s*\S(?:.*?\S)?\s{2,})(\S.*)$/;

/** the columns a text takes on a terminal: citty colours names and headings */
const visible = (text: string) => stripAnsi(text).length;

function wrapLine(line: string, width: number): string {
  if (visible(line) <= width) return line;
  const row = ROW.exec(line);
  // a description that starts past half the width goes under its row, indented, not in a sliver
  const head = row && visible(row[1]!) <= width / 2 ? row[1]! : null;
  const indent = head ? " ".repeat(visible(head)) : `${/^\s*/.exec(line)![0]}    `;
  const first = head ?? /^\s*/.exec(line)![0];
  const words = (head ? row![2]! : line.slice(first.length)).split(" ");
  const lines: string[] = [];
  let current = first;
  let empty = true;
  for (const word of words) {
    if (!empty && visible(current) + 1 + visible(word) > width) {
      lines.push(current);
      current = indent;
      empty = true;
    }
    current += empty ? word : ` ${word}`;
    empty = false;
  }
  lines.push(current);
  return lines.join("\n");
}
