/** Find where a spec path sits in the YAML file and turn issues into located errors with frames. */
import { type Document, isMap, isScalar, isSeq, type LineCounter, type Node } from "yaml";
import { BatchpipeError, ErrorCodes, type SourceLocation } from "../errors.js";
import { codeFrame } from "./code-frame.js";
import type { SpecIssue, SpecPath } from "./issues.js";

/** The parsed spec file, kept to locate problems. */
export interface SpecText {
  file: string;
  text: string;
  doc: Document;
  lineCounter: LineCounter;
  /** ranges never shown in frames (inline secrets) */
  secrets: [number, number][];
}

/** An issue with a place: the path it concerns and, for a file, a code frame. */
export class SpecIssueError extends BatchpipeError {
  /** dot path such as `sinks[1].table` ("" for the whole file) */
  readonly path: string;
  readonly frame?: string;

  constructor(
    code: string,
    message: string,
    options: {
      path: string;
      frame?: string;
      loc?: SourceLocation;
      hint?: string;
      plugin?: string;
      cause?: unknown;
    },
  ) {
    super(code, message, {
      hint: options.hint,
      loc: options.loc,
      plugin: options.plugin,
      cause: options.cause,
    });
    this.path = options.path;
    this.frame = options.frame;
  }
}

/**
 * The node at `path`. When the path ends outside the file (a missing key), the nearest ancestor:
 * its key if it has one (`body:`), else the ancestor itself.
 */
export function findNode(doc: Document, path: SpecPath, atKey = false): Node | undefined {
  let node: unknown = doc.contents;
  let found = node as Node | undefined;
  let foundKey: Node | undefined;
  for (const [index, key] of path.entries()) {
    const last = index === path.length - 1;
    let keyNode: Node | undefined;
    if (isMap(node)) {
      const pair = node.items.find((item) => (isScalar(item.key) ? item.key.value : item.key) === key);
      if (!pair) return foundKey ?? found;
      keyNode = pair.key as Node;
      node = last && atKey ? pair.key : (pair.value ?? pair.key);
    } else if (isSeq(node) && typeof key === "number") {
      node = node.items[key];
    } else return foundKey ?? found;
    if (!node || !(node as Node).range) return foundKey ?? found;
    found = node as Node;
    foundKey = keyNode?.range ? keyNode : undefined;
  }
  return found;
}

/** `sinks[1].table`; keys that are not identifiers are quoted */
export function toDotPath(path: SpecPath): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out;
}

/** Locate every issue; sorted by position in the file. */
export function locateIssues(
  issues: SpecIssue[],
  text: SpecText | undefined,
  file: string | null,
): SpecIssueError[] {
  const located = issues.map((issue) => {
    const code = issue.code ?? ErrorCodes.SPEC_INVALID;
    const path = toDotPath(issue.path);
    if (!text)
      return {
        offset: 0,
        error: new SpecIssueError(code, issue.message, {
          path,
          hint: issue.hint,
          loc: undefined,
          cause: issue.cause,
        }),
      };
    const range = issue.range ?? findNode(text.doc, issue.path, issue.atKey)?.range ?? [0, 0];
    const start = range[0];
    const { line, col } = text.lineCounter.linePos(start);
    const length = Math.max(1, range[1] - start);
    const frame = codeFrame(mask(text), line, col, { length });
    return {
      offset: start,
      error: new SpecIssueError(code, issue.message, {
        path,
        frame,
        hint: issue.hint,
        loc: { file: file ?? text.file, line, column: col },
        cause: issue.cause,
      }),
    };
  });
  if (text) located.sort((a, b) => a.offset - b.offset);
  return located.map((entry) => entry.error);
}

// --- internal ---

const masked = new WeakMap<SpecText, string>();

function mask(text: SpecText): string {
  let out = masked.get(text);
  if (out === undefined) {
    out = text.text;
    for (const [start, end] of text.secrets)
      out = out.slice(0, start) + out.slice(start, end).replace(/[^\s"']/g, "*") + out.slice(end);
    masked.set(text, out);
  }
  return out;
}

/**
 * one SPEC_INVALID error that lists every located problem of `file`. A spec given as an object
 * (runSpec) has no file to frame: its message says each problem's path and what is wrong, and the
 * hint is the problem's own (there is no `batchpipe validate` for an object).
 */
export function specError(details: BatchpipeError[], file: string): BatchpipeError {
  const count = details.length === 1 ? "a problem" : `${details.length} problems`;
  if (details.length > 0 && details.every((detail) => detail.loc === undefined)) {
    const problems = details.map((detail) => {
      const at = detail instanceof SpecIssueError && detail.path ? `${detail.path}: ` : "";
      return `${at}${detail.message}`;
    });
    return new BatchpipeError(
      ErrorCodes.SPEC_INVALID,
      problems.length === 1
        ? `${file} has a problem at ${problems[0]}`
        : `${file} has ${count}:\n${problems.map((p) => `  ${p}`).join("\n")}`,
      {
        details,
        hint:
          details.length === 1 && details[0]!.hint
            ? details[0]!.hint
            : "Fix them in the spec object and run again (each problem's hint is in error.details).",
      },
    );
  }
  return new BatchpipeError(ErrorCodes.SPEC_INVALID, `${file} has ${count}`, {
    details,
    loc: details[0]?.loc,
    hint: "fix them and run `batchpipe validate` again",
  });
}
