/**
 * The built-in `prompt` transform: every string in `body` (recursively) and `id` is a LiquidJS
 * template over the record's fields, in strict mode (an undefined variable or filter is an error).
 *
 * Rendering rule: a string that is exactly one output tag, `"{{ expr }}"`, becomes the value of
 * `expr` with its type kept (a list stays a list, a number a number); any other string renders to
 * a string. `{% if x %}` and `| default:` accept an undefined variable (LiquidJS `lenientIf`).
 *
 * Templates are parsed once in `create()`; strings without `{{` or `{%` are constants, shared
 * (frozen) between requests. A record whose template fails becomes a `template_error` failure.
 */
import { Context, Liquid, type Template, toValueSync, Value } from "liquidjs";
import { BatchpipeError } from "../errors.js";
import { defineTransform, type RequestLine, type SourceRecord, z } from "../plugin.js";

export const PROMPT_ENDPOINTS = [
  "/v1/chat/completions",
  "/v1/embeddings",
  "/v1/responses",
  "/v1/completions",
] as const;
export type PromptEndpoint = (typeof PROMPT_ENDPOINTS)[number];

/** the key each endpoint's body cannot do without */
const REQUIRED_BODY_KEY: Record<PromptEndpoint, string> = {
  "/v1/chat/completions": "messages",
  "/v1/embeddings": "input",
  "/v1/responses": "input",
  "/v1/completions": "prompt",
};

const liquid = new Liquid({
  strictVariables: true,
  strictFilters: true,
  lenientIf: true,
  ownPropertyOnly: true,
});

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
    checkTemplate(options.id, ["id"], ctx);
    walkStrings(options.body, ["body"], (text, path) => checkTemplate(text, path, ctx));
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
  const renderId = compileString(options.id, "id");
  const renderBody = compileNode(options.body, "body");
  const url = options.endpoint;
  return {
    toRequest(record) {
      const ctx = new Context(record.data, liquid.options, { sync: true }, { liquid });
      let id: string | undefined;
      try {
        id = String(renderId(ctx));
        if (id === "") throw new Error("the id rendered empty");
        const body = renderBody(ctx) as Record<string, unknown>;
        return { custom_id: id, url, body };
      } catch (error) {
        throw templateError(error, record, id);
      }
    },
  };
}

// --- internal ---

type Render = (ctx: Context) => unknown;

/** the place being rendered, carried by errors thrown inside a template */
class TemplateFailure extends Error {
  constructor(
    readonly where: string,
    readonly original: unknown,
  ) {
    super(original instanceof Error ? original.message : String(original));
  }
}

const SINGLE_OUTPUT = /^\{\{-?\s*([\s\S]*?)\s*-?\}\}$/;

function isTemplate(text: string): boolean {
  return text.includes("{{") || text.includes("{%");
}

function compileString(text: string, where: string): Render {
  if (!isTemplate(text)) return () => text;
  const single = SINGLE_OUTPUT.exec(text);
  if (single && !single[1]!.includes("}}") && !single[1]!.includes("{{")) {
    const value = new Value(single[1]!, liquid);
    return (ctx) => {
      try {
        return toValueSync(value.value(ctx, false));
      } catch (error) {
        throw new TemplateFailure(where, error);
      }
    };
  }
  const templates: Template[] = liquid.parse(text);
  return (ctx) => {
    try {
      return liquid.renderSync(templates, ctx);
    } catch (error) {
      throw new TemplateFailure(where, error);
    }
  };
}

/** compile a JSON-like value; constant subtrees are frozen and returned as they are */
function compileNode(node: unknown, where: string): Render {
  if (typeof node === "string") return compileString(node, where);
  if (Array.isArray(node)) {
    const items = node.map((item, index) => compileNode(item, `${where}[${index}]`));
    if (!node.some(hasTemplate)) return constant(node);
    return (ctx) => items.map((render) => render(ctx));
  }
  if (node !== null && typeof node === "object") {
    if (!hasTemplate(node)) return constant(node);
    const entries = Object.entries(node).map(
      ([key, value]) => [key, compileNode(value, `${where}.${key}`)] as const,
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
  const where = error instanceof TemplateFailure ? error.where : "id";
  const original = error instanceof TemplateFailure ? error.original : error;
  const text = original instanceof Error ? original.message : String(original);
  const variable = /^undefined variable: ([^,]+)/.exec(text)?.[1];
  const at = `${record.position.file}:${record.position.line}`;
  const message = variable
    ? `undefined variable "${variable}" in ${where} (record at ${at})`
    : `${where} failed to render: ${text.replace(/, line:\d+, col:\d+$/, "")} (record at ${at})`;
  return new BatchpipeError("template_error", message, {
    recordId: id,
    hint: variable
      ? `the record has no field "${variable}": fix the data, or write {{ ${variable} | default: "..." }}`
      : "check the template in the transform options",
    cause: original,
  });
}

function walkStrings(
  node: unknown,
  path: (string | number)[],
  visit: (text: string, path: (string | number)[]) => void,
) {
  if (typeof node === "string") visit(node, path);
  else if (Array.isArray(node)) {
    for (const [index, item] of node.entries()) walkStrings(item, [...path, index], visit);
  } else if (node !== null && typeof node === "object")
    for (const [key, value] of Object.entries(node)) walkStrings(value, [...path, key], visit);
}

function checkTemplate(text: string, path: (string | number)[], ctx: z.RefinementCtx) {
  if (!isTemplate(text)) return;
  try {
    liquid.parse(text);
  } catch (error) {
    const message =
      error instanceof Error ? error.message.replace(/, line:\d+, col:\d+$/, "") : String(error);
    ctx.addIssue({ code: "custom", path, message: `invalid template: ${message}`, input: text });
  }
}
