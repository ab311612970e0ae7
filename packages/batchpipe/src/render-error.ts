/**
 * Render anything a command threw: a BatchpipeError with its code, place, frame and hint; a problem
 * of the machine (full disk, permissions) as such; anything else as a short message with a "this is
 * a bug" hint (the stack only under --debug).
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import {
  type BatchpipeError,
  codeFrame,
  ErrorCodes,
  type ErrorSummary,
  formatSpecError,
  isBatchpipeError,
  summarizeError,
  systemError,
} from "@batchpipe/core";
import { ExitCode } from "./exit-codes.js";

export interface RenderErrorOptions {
  color: boolean;
  debug: boolean;
  cwd: string;
}

/**
 * A hint's note for library callers, "(from code: clearCache(stateDir))" beside the command a CLI
 * user runs: the CLI prints the text without it. Core writes every note in this one form.
 */
export function withoutCodeNotes(text: string): string {
  return text.replace(/ ?\(from code: (?:[^()]|\([^()]*\))*\)/g, "");
}

export function renderError(error: unknown, options: RenderErrorOptions): string {
  if (isBatchpipeError(error)) {
    const withFrame =
      error.loc && !(error as { frame?: unknown }).frame && !error.details ? addFrame(error) : error;
    let text = formatSpecError(forCli(withFrame), { color: options.color, cwd: options.cwd });
    if (options.debug) text += causes(error);
    return text;
  }
  const system = systemError(error);
  if (system) {
    const lines = [`✖ ${system.message}`, `  hint: ${withoutCodeNotes(system.hint)}`];
    if (options.debug && error instanceof Error && error.stack) lines.push("", error.stack);
    return lines.join("\n");
  }
  const message = error instanceof Error ? error.message : String(error);
  const lines = [`✖ unexpected error: ${message}`];
  lines.push("  hint: this is a bug in batchpipe or a plugin; please report it with the output of --debug");
  if (options.debug && error instanceof Error && error.stack) lines.push("", error.stack);
  return lines.join("\n");
}

/** The `--json` event of an error a command ends on (stdout; the rendered text still goes to stderr). */
export function errorEvent(error: unknown, usage = false): Record<string, unknown> {
  const exitCode = usage ? ExitCode.USAGE : exitCodeFor(error);
  if (!isBatchpipeError(error)) {
    if (!usage) return { type: "error", ...summaryForCli(error), exitCode };
    const message = error instanceof Error ? error.message : String(error);
    return { type: "error", code: ErrorCodes.USAGE, message, exitCode };
  }
  const problems = error.details?.map((detail) => ({
    message: detail.message,
    path: (detail as { path?: string }).path,
    loc: detail.loc,
    hint: detail.hint && withoutCodeNotes(detail.hint),
  }));
  return {
    type: "error",
    ...summaryForCli(error),
    ...(error.plugin ? { plugin: error.plugin } : {}),
    ...(error.loc ? { loc: error.loc } : {}),
    ...(problems ? { problems } : {}),
    exitCode,
  };
}

/**
 * 2 for what the user must fix before anything runs (the spec, the command line, a plugin, ids the
 * `id` template makes twice), 1 for everything else
 */
export function exitCodeFor(error: unknown): number {
  if (!isBatchpipeError(error)) return ExitCode.RUN_ERROR;
  const usage: string[] = [
    ErrorCodes.SPEC_INVALID,
    ErrorCodes.USAGE,
    ErrorCodes.PLUGIN_NOT_FOUND,
    ErrorCodes.PLUGIN_INVALID,
    ErrorCodes.DUPLICATE_ID,
  ];
  return usage.includes(error.code) ? ExitCode.USAGE : ExitCode.RUN_ERROR;
}

// --- internal ---

/** the error as the CLI shows it: its message and hints without their notes for library callers */
function forCli(error: BatchpipeError): BatchpipeError {
  const clean = (e: BatchpipeError, more: object = {}): BatchpipeError =>
    Object.assign(Object.create(Object.getPrototypeOf(e)), e, {
      message: withoutCodeNotes(e.message),
      ...(e.hint ? { hint: withoutCodeNotes(e.hint) } : {}),
      ...more,
    });
  return clean(error, error.details ? { details: error.details.map((d) => clean(d)) } : {});
}

function summaryForCli(error: unknown): ErrorSummary {
  const summary = summarizeError(error);
  return {
    ...summary,
    message: withoutCodeNotes(summary.message),
    ...(summary.hint ? { hint: withoutCodeNotes(summary.hint) } : {}),
  };
}

function addFrame(error: BatchpipeError): BatchpipeError {
  const loc = error.loc!;
  try {
    const text = linesOf(loc.file, loc.line + 2);
    if (text === undefined) return error;
    const frame = codeFrame(text, loc.line, loc.column);
    return Object.assign(Object.create(Object.getPrototypeOf(error)), error, {
      frame,
      message: error.message,
    });
  } catch {
    return error;
  }
}

/** how much of a file a frame reads at most to reach its line */
const FRAME_READ_LIMIT = 64 * 1024 * 1024;

/**
 * The text of a regular file up to its line `last` (or its end), for a frame; undefined for what a
 * frame cannot show: a pipe or a device (reading it would wait for a writer that may be gone), a
 * binary file (gzip, parquet), a line past the first 64 MB.
 */
function linesOf(file: string, last: number): string | undefined {
  if (!statSync(file).isFile()) return undefined;
  const fd = openSync(file, "r");
  try {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let newlines = 0;
    while (newlines < last) {
      if (bytes >= FRAME_READ_LIMIT) return undefined;
      const chunk = Buffer.alloc(64 * 1024);
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      bytes += n;
      for (let at = chunk.indexOf(10); at !== -1 && at < n; at = chunk.indexOf(10, at + 1)) newlines++;
    }
    const text = Buffer.concat(chunks);
    return text.includes(0) ? undefined : text.toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/** the error's stack, its causes' and those of its listed problems (a plugin module's own error) */
function causes(error: BatchpipeError): string {
  let out = "";
  if (error.stack) out += `\n\n${error.stack}`;
  out += causeChain(error.cause, "[cause]");
  for (const detail of error.details ?? []) {
    const path = (detail as { path?: string }).path;
    out += causeChain(detail.cause, path ? `[cause of ${path}]` : "[cause]");
  }
  return out;
}

function causeChain(first: unknown, label: string): string {
  let out = "";
  let cause = first;
  for (let depth = 0; cause !== undefined && depth < 5; depth++) {
    out += `\n  ${label} ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}`;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return out;
}
