/**
 * The spec file as YAML text: parsed with positions (syntax errors located), `${VAR}` references
 * interpolated in place, and inline secrets refused (and hidden from frames): `provider.api_key`,
 * and the password of a URL anywhere in the spec (a sink's database URL).
 */
import {
  type Document,
  isCollection,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  Scalar,
  visit,
  type YAMLError,
} from "yaml";
import {
  coercePlainScalar,
  type Env,
  hasReference,
  type InterpolationProblem,
  interpolate,
  isSingleReference,
} from "./interpolate.js";
import type { SpecIssue, SpecPath } from "./issues.js";
import { locateIssues, type SpecText, specError } from "./locate.js";
import { collectionKeyIssues, duplicateKeyIssue, quoteHint } from "./yaml-hints.js";

/** yaml's messages that speak to a library user rather than to a spec author */
const YAML_MESSAGES: Record<string, string> = {
  MULTIPLE_DOCS: "the file holds more than one YAML document",
  DUPLICATE_KEY: "duplicate key: a key may appear only once in a mapping",
};

const YAML_HINTS: Record<string, string> = {
  MULTIPLE_DOCS:
    "a pipeline file is one document: remove the `---` line and what follows, or split it into two files",
  BLOCK_AS_IMPLICIT_KEY:
    "a key has both a value and a nested mapping: check the indentation of the line below",
  BAD_INDENT: "check the indentation: nested keys need more spaces than their parent, and siblings the same",
  DUPLICATE_KEY: "remove one of them",
  TAB_AS_INDENT: "indent with spaces, not tabs",
  MISSING_CHAR: "a quote or bracket is not closed",
  MULTILINE_IMPLICIT_KEY: "a key must fit on one line; is a `:` or a quote missing?",
};

/** errors that an unquoted value causes (`use: @acme/x`, `content: Review: {{ text }}`, `id: {{ id }}-x`) */
const QUOTABLE = new Set([
  "BAD_SCALAR_START",
  "BLOCK_IN_FLOW",
  "BLOCK_AS_IMPLICIT_KEY",
  "UNEXPECTED_TOKEN",
  "MULTILINE_IMPLICIT_KEY",
]);

/** `path: -` (standard input) read as a list item */
const DASH_HINT = 'a bare `-` starts a YAML list: quote it, e.g. `path: "-"` for standard input';

/** the error is at a `-` that stands alone as a value (`key: -` or `key: - }`) */
function bareDash(text: string, at: number): boolean {
  return (
    /:\s*$/.test(text.slice(Math.max(0, at - 40), at)) && /^-\s*(?:[,}\]]|$)/m.test(text.slice(at, at + 40))
  );
}

/** YAML with positions; throws SPEC_INVALID for syntax errors and an empty file */
export function parseSpec(text: string, file: string): SpecText {
  const lineCounter = new LineCounter();
  // logLevel "error": yaml would otherwise print its warnings to the process (a library never does)
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, logLevel: "error" });
  const spec: SpecText = { file, text, doc, lineCounter, secrets: [] };
  const issues: SpecIssue[] = syntaxErrors(doc.errors).map(
    (error) =>
      unclosedIssue(doc, text, error) ??
      (error.code === "DUPLICATE_KEY"
        ? duplicateKeyIssue(doc, error.pos, (offset) => lineCounter.linePos(offset))
        : undefined) ?? {
        path: [],
        message: YAML_MESSAGES[error.code] ?? error.message.split("\n")[0]!,
        hint:
          text.slice(error.pos[0] - 1, error.pos[0] + 1) === "${"
            ? FLOW_HINT
            : bareDash(text, error.pos[0])
              ? DASH_HINT
              : ((QUOTABLE.has(error.code) ? quoteHint(text, error.pos[0]) : undefined) ??
                YAML_HINTS[error.code] ??
                "fix the YAML syntax"),
        range: error.pos,
      },
  );
  if (issues.length === 0) issues.push(...collectionKeyIssues(doc, text));
  if (issues.length === 0 && doc.contents === null)
    issues.push({
      path: [],
      message: "the file is empty",
      hint: "a pipeline spec starts with `version: 1` (see `batchpipe schema`)",
    });
  if (issues.length > 0) throw specError(locateIssues(issues, spec, file), file);
  return spec;
}

/** the document as data; an alias to no anchor (or an alias bomb) is a located spec error, not a crash */
export function toData(spec: SpecText): unknown {
  try {
    return spec.doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    let range: [number, number] | undefined;
    visit(spec.doc, {
      Alias(_, node) {
        if (!range && node.range && node.resolve(spec.doc) === undefined)
          range = [node.range[0], node.range[1]];
      },
    });
    const issue: SpecIssue = {
      path: [],
      message: range
        ? `the alias ${spec.text.slice(range[0], range[1]).trim()} has no anchor`
        : (error as Error).message.split("\n")[0]!,
      hint: "define the anchor (&name) before its alias (*name), or write the value out",
      range,
    };
    throw specError(locateIssues([issue], spec, spec.file), spec.file);
  }
}

// biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the spec syntax
export const FLOW_HINT = 'inside { } or [ ], quote a value that holds a variable: "${VAR}"';

const CLOSERS: Record<string, string> = { "{": "}", "[": "]", '"': '"', "'": "'" };

/**
 * A quote or bracket that is never closed is reported where yaml gives up, often lines below:
 * point at where it opens instead (the last unclosed one of its kind before the error).
 */
function unclosedIssue(doc: Document, text: string, error: YAMLError): SpecIssue | undefined {
  const quote = /^Missing closing (["'])quote/.exec(error.message)?.[1];
  const bracket = /must be sufficiently indented and end with a ([}\]])/.exec(error.message)?.[1];
  if (!quote && !bracket) return undefined;
  let start: number | undefined;
  visit(doc, {
    Node(_, node) {
      const range = node.range;
      if (!range || range[0] >= error.pos[0] || (start !== undefined && range[0] <= start)) return;
      const open = text[range[0]]!;
      const kind = isScalar(node) ? open === quote : isCollection(node) && CLOSERS[open] === bracket;
      const written = text.slice(range[0], range[1]).trimEnd();
      if (kind && (written.length === 1 || !written.endsWith(CLOSERS[open]!))) start = range[0];
    },
  });
  if (start === undefined) return undefined;
  const open = text[start]!;
  const close = CLOSERS[open]!;
  return {
    path: [],
    message: `this ${open} is never closed`,
    hint: quote
      ? `end the value with ${close}${open === '"' ? ' (write \\" for a quote inside it)' : " (write '' for a quote inside it)"}`
      : `close it with ${close}; a { } or [ ] that spans lines must indent its lines more than its key`,
    range: [start, start + 1],
  };
}

/** the first syntax error, and later ones that cannot be its echo; the rest usually cascade from the first */
function syntaxErrors(errors: YAMLError[]): YAMLError[] {
  const independent = new Set(["DUPLICATE_KEY", "TAB_AS_INDENT", "BAD_DQ_ESCAPE"]);
  return errors.filter((error, index) => index === 0 || independent.has(error.code));
}

/** interpolate every string scalar in place; problems point at the reference inside the scalar */
export function interpolateDocument(spec: SpecText, env: Env): SpecIssue[] {
  const issues: SpecIssue[] = [];
  forEachString(spec.doc.contents, (node, original, at) => {
    if (hasReference(original)) {
      const result = interpolate(original, env);
      const start = node.range?.[0] ?? 0;
      const source = spec.text.slice(start, node.range?.[1] ?? start);
      for (const problem of result.problems) issues.push(problemIssue(problem, original, source, start, at));
      node.value =
        node.type === Scalar.PLAIN && isSingleReference(original)
          ? coercePlainScalar(result.value)
          : result.value;
    }
  });
  return issues;
}

/** every string scalar of a document, with its path (map keys that are strings or numbers) */
function forEachString(root: unknown, each: (node: Scalar, value: string, at: SpecPath) => void): void {
  const visit = (node: unknown, at: SpecPath) => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (typeof key === "string" || typeof key === "number") visit(pair.value, [...at, key]);
      }
    } else if (isSeq(node)) {
      for (const [index, item] of node.items.entries()) visit(item, [...at, index]);
    } else if (isScalar(node) && typeof node.value === "string") each(node, node.value, at);
  };
  visit(root, []);
}

function problemIssue(
  problem: InterpolationProblem,
  original: string,
  source: string,
  start: number,
  at: SpecPath,
): SpecIssue {
  // the reference as written; found in the raw source so quoted scalars point right too
  const reference = original.slice(problem.index).match(/^\$\{[^}]*\}?/)?.[0] ?? "${";
  const offset = source.indexOf(reference);
  const from = start + Math.max(0, offset);
  return { path: at, message: problem.message, hint: problem.hint, range: [from, from + reference.length] };
}

/** `provider.api_key` must come from the environment: the spec is committed, the key must not be */
export function checkApiKey(spec: SpecText, issues: SpecIssue[], allowInline: boolean) {
  const provider = spec.doc.get("provider", true);
  if (!isMap(provider)) return;
  const node = provider.get("api_key", true) as Node | undefined;
  if (!isScalar(node) || !node.range) return;
  const written = spec.text.slice(node.range[0], node.range[1]).replace(/^["']|["']$/g, "");
  if (isSingleReference(written)) return;
  spec.secrets.push([node.range[0], node.range[1]]);
  if (allowInline) return;
  // the variable the chosen provider reads by default
  const use = provider.get("use");
  const variable = use === "anthropic" ? "ANTHROPIC_API_KEY" : "OPENAI_API_KEY";
  issues.push({
    path: ["provider", "api_key"],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the spec syntax
    message: "must be a ${VAR} reference, not the key itself (the value is hidden here)",
    hint: `put the key in an environment variable and write api_key: \${${variable}}; revoke the key if this file was shared`,
    range: [node.range[0], node.range[1]],
  });
}

/**
 * A password written out in a URL, in any value (`url: postgres://user:secret@host/db`): the same
 * policy as api_key, since the spec is committed. Read from the text as written, as interpolation
 * has already replaced the references: a password that is a `${VAR}` reference is no secret here.
 * Only the password is hidden from frames, so the frame still shows which URL it is.
 */
export function checkUrlPasswords(spec: SpecText, issues: SpecIssue[], allowInline: boolean) {
  forEachString(spec.doc.contents, (node, _value, at) => {
    if (node.range) {
      const start = node.range[0];
      const written = spec.text.slice(start, node.range[1]);
      if (!written.includes("://")) return;
      for (const [from, to] of inlinePasswords(written)) {
        spec.secrets.push([start + from, start + to]);
        if (allowInline) continue;
        const key = String(at.at(-1) ?? "url");
        const variable = key === "url" ? "DATABASE_URL" : key.toUpperCase();
        issues.push({
          path: at,
          message: "holds a password written out in a URL (hidden here): it must come from the environment",
          hint: `write the whole value as a reference, e.g. ${key}: "\${${variable}}", or just the password, e.g. user:\${DB_PASSWORD}@host; revoke the password if this file was shared`,
          range: [start + from, start + to],
        });
      }
    }
  });
}

/** a URL's userinfo password, or its ?password= parameter */
const URL_PASSWORD = /[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s/?#@:"']*:([^\s/?#@"']+)@|[?&]password=([^\s&#"']+)/g;

/** where passwords are written out in `text` (offsets); a password made of references only is none */
function inlinePasswords(text: string): [number, number][] {
  const found: [number, number][] = [];
  for (const match of text.matchAll(URL_PASSWORD)) {
    const password = match[1] ?? match[2]!;
    if (password.replace(/\$\{[^}]*\}/g, "") === "") continue;
    const end = match.index + match[0].length - (match[1] === undefined ? 0 : 1);
    found.push([end - password.length, end]);
  }
  return found;
}
