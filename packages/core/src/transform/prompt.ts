/**
 * The built-in `prompt` transform: every string in `body` (recursively) and `id` is a LiquidJS
 * template over the record's fields, in strict mode (an undefined variable or filter is an error).
 *
 * Rendering rule: a string that is exactly one output tag, `"{{ expr }}"`, becomes the value of
 * `expr` with its type kept (a list stays a list, a number a number); any other string renders to
 * a string. `{% if x %}` and `| default:` accept an undefined variable (LiquidJS `lenientIf`).
 *
 * Templates are parsed once in `create()`; strings without `{{` or `{%` are constants, shared
 * (frozen) between requests. Text with only `{{ name }}` / `{{ a.b }}` outputs is rendered by a
 * direct lookup (about 20x faster than LiquidJS); whenever that lookup finds no plain value, the
 * record goes through LiquidJS, so output and errors are LiquidJS's own. A record whose template
 * fails becomes a `template_error` failure. The LiquidJS set-up and the spec-time checks of the
 * templates are liquid.ts's.
 */
import { Context, type Template, toValueSync, Value } from "liquidjs";
import { BatchpipeError } from "../errors.js";
import { defineTransform, type RequestLine, type SourceRecord, z } from "../plugin.js";
import { closest } from "../spec/issues.js";
import { toDotPath } from "../spec/locate.js";
import { checkTemplates, isTemplate, liquid, OUTPUT } from "./liquid.js";

export const PROMPT_ENDPOINTS = [
  "/v1/chat/completions",
  "/v1/embeddings",
  "/v1/responses",
  "/v1/completions",
  "/v1/moderations",
] as const;
export type PromptEndpoint = (typeof PROMPT_ENDPOINTS)[number];

/** the key each endpoint's body cannot do without */
export const REQUIRED_BODY_KEY: Record<PromptEndpoint, string> = {
  "/v1/chat/completions": "messages",
  "/v1/embeddings": "input",
  "/v1/responses": "input",
  "/v1/completions": "prompt",
  "/v1/moderations": "input",
};

/** where in the options a template sits: ["body", "messages", 0, "content"] */
type OptionPath = (string | number)[];

/** a record's template failed; `option` says which template (for `validate` to point at it) */
export class TemplateError extends BatchpipeError {
  constructor(
    message: string,
    readonly option: OptionPath,
    options: ConstructorParameters<typeof BatchpipeError>[2],
  ) {
    super("template_error", message, options);
  }
}

export const promptOptions = z
  .strictObject({
    endpoint: z.enum(PROMPT_ENDPOINTS).default("/v1/chat/completions").meta({
      description: "The API endpoint every request goes to (one endpoint per batch).",
    }),
    id: z
      .string()
      .min(1)
      .default("{{ id }}")
      .meta({
        description: "Template of the custom_id; must be unique in the dataset.",
        examples: ["{{ id }}", "review-{{ review_id }}"],
      }),
    body: z.record(z.string(), z.unknown()).meta({
      description:
        "The request body (OpenAI's snake_case). Every string is a Liquid template over the record; a string that is exactly \"{{ expr }}\" keeps the value's type.",
    }),
  })
  .superRefine((options, ctx) => {
    checkTemplates(options, ctx);
    if (typeof options.body.model !== "string")
      ctx.addIssue({
        code: "custom",
        path: ["body", "model"],
        message: "is required (expected a string: the model name)",
      });
    const key = REQUIRED_BODY_KEY[options.endpoint];
    if (!(key in options.body))
      ctx.addIssue({ code: "custom", path: ["body", key], message: `is required for ${options.endpoint}` });
  });

export type PromptOptions = z.output<typeof promptOptions>;

export default defineTransform({
  name: "prompt",
  options: promptOptions,
  create({ options }) {
    return createPromptRenderer(options);
  },
});

/** Compile the templates once; the returned handle renders one record at a time, synchronously. */
export function createPromptRenderer(options: PromptOptions): {
  toRequest(record: SourceRecord): RequestLine;
} {
  const renderId = compileString(options.id, ["id"], { exactIntegers: true });
  const renderBody = compileNode(options.body, ["body"]);
  const url = options.endpoint;
  return {
    toRequest(record) {
      const scope: Scope = { data: record.data, ctx: undefined };
      let id: string | undefined;
      try {
        const raw = renderId(scope);
        if (raw === null || typeof raw === "object")
          throw new Error(
            `the id rendered to ${raw === null ? "null" : Array.isArray(raw) ? "a list" : "a mapping"}`,
          );
        if (typeof raw === "number") refuseInexact(raw);
        id = String(raw);
        if (id === "") throw new Error("the id rendered empty");
        const body = renderBody(scope) as Record<string, unknown>;
        return { custom_id: id, url, body };
      } catch (error) {
        throw templateError(error, record, id);
      }
    },
  };
}

// --- internal ---

/** a record being rendered; the LiquidJS context is made only when a template needs it */
interface Scope {
  data: Record<string, unknown>;
  ctx: Context | undefined;
}

type Render = (scope: Scope) => unknown;

function liquidContext(scope: Scope): Context {
  scope.ctx ??= new Context(scope.data, liquid.options, { sync: true }, { liquid });
  return scope.ctx;
}

/** the place being rendered, carried by errors thrown inside a template */
class TemplateFailure extends Error {
  constructor(
    readonly where: OptionPath,
    readonly original: unknown,
  ) {
    super(original instanceof Error ? original.message : String(original));
  }
}

const SINGLE_OUTPUT = /^\{\{-?\s*([\s\S]*?)\s*-?\}\}$/;
/** `name` or `a.b.c`: looked up directly; anything else (filters, indexes, `.size`) goes through LiquidJS */
const SIMPLE_PATH = /^\s*([A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*)\s*$/;
const LIQUID_WORDS = new Set(["nil", "null", "true", "false", "empty", "blank", "size", "first", "last"]);
/** no value found by the fast lookup: LiquidJS decides (and raises its own strict errors) */
const MISS = Symbol("miss");

/**
 * An integer past 2^53 − 1 has lost digits by the time it is a number (JSON.parse rounds
 * 9007199254740993 to …992): as an id it would name another record, or collide with it
 */
function refuseInexact(value: unknown): void {
  if (typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value))
    throw new Error(
      `the id uses the number ${value}, past 2^53 − 1 (9007199254740991): numbers that large lose digits when they are read, so it may not be the record's id. Write the ids as strings in the source (e.g. "id": "9007199254740993")`,
    );
}

/** `exactIntegers`: refuse a number that may have lost digits (refuseInexact; the id's template) */
function compileString(text: string, where: OptionPath, o: { exactIntegers?: boolean } = {}): Render {
  if (!isTemplate(text)) return () => text;
  const single = SINGLE_OUTPUT.exec(text);
  if (single && !single[1]!.includes("}}") && !single[1]!.includes("{{"))
    return compileValue(single[1]!, where);
  const templates: Template[] = liquid.parse(text);
  const slow: Render = (scope) => {
    try {
      return liquid.renderSync(templates, liquidContext(scope));
    } catch (error) {
      throw new TemplateFailure(where, error);
    }
  };
  const parts = fastParts(text);
  if (!parts) return slow;
  return (scope) => {
    let out = "";
    for (const part of parts) {
      if (typeof part === "string") out += part;
      else {
        if (o.exactIntegers) refuseInexact(lookupValue(scope.data, part));
        const value = lookup(scope.data, part);
        if (value === MISS) return slow(scope);
        out += value;
      }
    }
    return out;
  };
}

/** `{{ expr }}` alone: the value itself, type kept */
function compileValue(expression: string, where: OptionPath): Render {
  const value = new Value(expression, liquid);
  const slow: Render = (scope) => {
    try {
      return toValueSync(value.value(liquidContext(scope), false));
    } catch (error) {
      throw new TemplateFailure(where, error);
    }
  };
  const path = simplePath(expression);
  if (!path) return slow;
  return (scope) => {
    const found = lookupValue(scope.data, path);
    return found === MISS ? slow(scope) : found;
  };
}

/** text and simple outputs, or undefined when the template needs LiquidJS (tags, filters, `{{-`) */
function fastParts(text: string): (string | string[])[] | undefined {
  if (text.includes("{%") || text.includes("{{-") || text.includes("-}}")) return undefined;
  const parts: (string | string[])[] = [];
  let last = 0;
  for (const match of text.matchAll(OUTPUT)) {
    const path = simplePath(match[1]!);
    if (!path) return undefined;
    if (match.index > last) parts.push(text.slice(last, match.index));
    parts.push(path);
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts.some((part) => typeof part === "string" && part.includes("{{")) ? undefined : parts;
}

function simplePath(expression: string): string[] | undefined {
  const match = SIMPLE_PATH.exec(expression);
  if (!match) return undefined;
  const path = match[1]!.split(".");
  return path.some((segment) => LIQUID_WORDS.has(segment)) ? undefined : path;
}

/** a value found through own properties of plain objects, or MISS */
function lookupValue(data: Record<string, unknown>, path: string[]): unknown {
  let value: unknown = data;
  for (const key of path) {
    if (value === null || typeof value !== "object" || Array.isArray(value) || !Object.hasOwn(value, key))
      return MISS;
    value = (value as Record<string, unknown>)[key];
  }
  return value === undefined ? MISS : value;
}

/** the text LiquidJS would output for a scalar, or MISS for anything it renders its own way */
function lookup(data: Record<string, unknown>, path: string[]): string | typeof MISS {
  const value = lookupValue(data, path);
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value === null) return "";
  return MISS;
}

/** compile a JSON-like value; constant subtrees are frozen and returned as they are */
function compileNode(node: unknown, where: OptionPath): Render {
  if (typeof node === "string") return compileString(node, where);
  if (Array.isArray(node)) {
    const items = node.map((item, index) => compileNode(item, [...where, index]));
    if (!node.some(hasTemplate)) return constant(node);
    return (ctx) => items.map((render) => render(ctx));
  }
  if (node !== null && typeof node === "object") {
    if (!hasTemplate(node)) return constant(node);
    const entries = Object.entries(node).map(
      ([key, value]) => [key, compileNode(value, [...where, key])] as const,
    );
    return (ctx) => {
      const out: Record<string, unknown> = {};
      for (const [key, render] of entries) out[key] = render(ctx);
      return out;
    };
  }
  return () => node;
}

function hasTemplate(node: unknown): boolean {
  if (typeof node === "string") return isTemplate(node);
  if (Array.isArray(node)) return node.some(hasTemplate);
  if (node !== null && typeof node === "object") return Object.values(node).some(hasTemplate);
  return false;
}

function constant(node: unknown): Render {
  const frozen = deepFreeze(node);
  return () => frozen;
}

function deepFreeze<T>(node: T): T {
  if (node !== null && typeof node === "object" && !Object.isFrozen(node)) {
    Object.freeze(node);
    for (const value of Object.values(node)) deepFreeze(value);
  }
  return node;
}

function templateError(error: unknown, record: SourceRecord, id: string | undefined): BatchpipeError {
  const where = error instanceof TemplateFailure ? error.where : ["id"];
  const original = error instanceof TemplateFailure ? error.original : error;
  const text = original instanceof Error ? original.message : String(original);
  const variable = /^undefined variable: ([^,]+)/.exec(text)?.[1];
  const at = `${record.position.file}:${record.position.line}`;
  const message = variable
    ? `undefined variable "${variable}" in ${toDotPath(where)} (record at ${at})`
    : `${toDotPath(where)} failed to render: ${text.replace(/, line:\d+, col:\d+$/, "")} (record at ${at})`;
  const field = variable?.split(".")[0];
  const near = field ? closest(field, Object.keys(record.data)) : undefined;
  return new TemplateError(message, where, {
    recordId: id,
    hint: !variable
      ? "check the template in the transform options"
      : near && near !== field
        ? `did you mean "${near}"? The record has no field "${field}"; fix the template, or write {{ ${variable} | default: "..." }}`
        : `the record has no field "${variable}": fix the data, or write {{ ${variable} | default: "..." }}`,
    cause: original,
  });
}
