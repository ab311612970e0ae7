/**
 * Render a BatchpipeError for a terminal: each problem as `file:line:col path: message`, its code
 * frame and hint; spec errors list every problem, then a summary line.
 */
import path from "node:path";
import type { BatchpipeError } from "../errors.js";

export interface FormatErrorOptions {
  /** ANSI colours (default false) */
  color?: boolean;
  /** file names are shown relative to this folder (default process.cwd()) */
  cwd?: string;
}

export function formatSpecError(error: BatchpipeError, options: FormatErrorOptions = {}): string {
  const paint = painter(options.color ?? false);
  const cwd = options.cwd ?? process.cwd();
  if (!error.details || error.details.length === 0) return formatOne(error, { paint, cwd, header: true });
  const entries = error.details.map((detail) => formatOne(detail, { paint, cwd, header: false }));
  const summary = `${paint.red("✖")} ${displayMessage(error.message, cwd)} ${paint.dim(`(${error.code})`)}`;
  return `${entries.join("\n\n")}\n\n${summary}`;
}

/** a file name as the user would type it: relative to cwd when inside it */
export function displayPath(file: string, cwd: string): string {
  const relative = path.relative(cwd, file);
  return relative && !relative.startsWith("..") && !path.isAbsolute(relative) ? relative : file;
}

// --- internal ---

interface Paint {
  red(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
  cyan(text: string): string;
}

function formatOne(error: BatchpipeError, ctx: { paint: Paint; cwd: string; header: boolean }): string {
  const { paint, cwd } = ctx;
  const where = error.loc
    ? `${displayPath(error.loc.file, cwd)}:${error.loc.line}:${error.loc.column}`
    : undefined;
  const dotPath = (error as { path?: unknown }).path;
  const subject = typeof dotPath === "string" && dotPath !== "" ? `${dotPath}: ` : "";
  const code = error.code === "SPEC_INVALID" && !ctx.header ? "" : ` ${paint.dim(`(${error.code})`)}`;
  const lines: string[] = [];
  if (ctx.header) {
    lines.push(`${paint.red("✖")} ${paint.bold(`${subject}${displayMessage(error.message, cwd)}`)}${code}`);
    if (where) lines.push(`  at ${where}`);
  } else {
    lines.push(
      `${where ? `${paint.bold(where)} ` : ""}${subject}${displayMessage(error.message, cwd)}${code}`,
    );
  }
  const frame = (error as { frame?: unknown }).frame;
  if (typeof frame === "string" && frame) lines.push(paint.dim(frame));
  if (error.recordId) lines.push(`  record: ${error.recordId}`);
  if (error.hint) lines.push(`  ${paint.cyan("hint:")} ${error.hint}`);
  return lines.join("\n");
}

/** messages (errors, warnings) name files by absolute path; show them relative like the locations */
export function displayMessage(message: string, cwd: string): string {
  const prefix = cwd.endsWith(path.sep) ? cwd : `${cwd}${path.sep}`;
  return message.split(prefix).join("");
}

function painter(color: boolean): Paint {
  const wrap = (open: number, close: number) => (text: string) =>
    color ? `\u001b[${open}m${text}\u001b[${close}m` : text;
  return { red: wrap(31, 39), dim: wrap(2, 22), bold: wrap(1, 22), cyan: wrap(36, 39) };
}
