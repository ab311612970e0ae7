/**
 * `workConfig`: the seed's WorkConfig (snake_case, as in the Python runner), checked with zod.
 * Everything but `name` has a default; unknown keys are errors, reported all at once with hints.
 */
import { z } from "zod";
import { BatchpipeError, ErrorCodes } from "../errors.js";
import type { ProviderPlugin } from "../plugin.js";
import { closest } from "../spec/issues.js";
import { batchSchema, modelLimitsSchema, pricingSchema, providerSchema } from "../spec/schema.js";
import { PROMPT_ENDPOINTS } from "../transform/prompt.js";

export const workConfigSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, {
      error: "expected a slug: letters, digits, - and _, at most 64 characters",
    })
    .meta({ description: "The work name: keys the run state and the batches' metadata." }),
  completion_window: z
    .string()
    .regex(/^\d+h$/, { error: 'expected a window in hours such as "24h"' })
    .default("24h"),
  /** the prompt transform's list: an item goes where a prompt can */
  endpoint: z.enum(PROMPT_ENDPOINTS).default("/v1/chat/completions"),
  allow_same_dataset: z.boolean().default(false),
  clean_up: z.boolean().default(true),
  /** put in every request body that has no `model` */
  model: z.string().min(1).optional(),
  /** body fields added to every request built from `messages` / `input` (e.g. temperature) */
  body: z.record(z.string(), z.unknown()).optional(),
  provider: providerSchema.optional(),
  /** the rest of the spec's `batch:` block (max_requests, poll_interval, max_attempts, …) */
  batch: batchSchema
    .omit({ completion_window: true, clean_up: true, allow_same_dataset: true })
    .partial()
    .optional(),
  /** default `.batchpipe/<name>` in the run's folder */
  state_dir: z.string().min(1).optional(),
  /** the spec's pricing: list prices of models batchpipe does not know (a fine-tune), for max_cost */
  pricing: pricingSchema.optional(),
  /** the spec's model_limits: context window and output limit of models batchpipe does not know */
  model_limits: modelLimitsSchema.optional(),
});

/**
 * What a runner class declares. Enumerations are typed `string` on purpose: a subclass's
 * `static workConfig = { endpoint: "/v1/embeddings" }` widens literals to string, and the schema
 * checks the values when `run()` is called.
 */
export interface WorkConfig {
  name: string;
  completion_window?: string;
  /** /v1/chat/completions (default), /v1/embeddings, /v1/responses, /v1/completions or /v1/moderations */
  endpoint?: string;
  allow_same_dataset?: boolean;
  clean_up?: boolean;
  /** put in every request body that has no `model` */
  model?: string;
  /** fields added to every request built from `messages` / `input` (temperature, response_format, …) */
  body?: Record<string, unknown>;
  /**
   * `{ use: "openai" | "anthropic" | "emulator", base_url?, api_key?, emulator?, … }`: the provider's
   * options sit beside `use` (checked by its schema); default OpenAI with OPENAI_API_KEY
   */
  provider?: {
    use?: string | ProviderPlugin;
    base_url?: string;
    api_key?: string;
    emulator?: Record<string, unknown>;
    [option: string]: unknown;
  };
  /** the spec's other batch options */
  batch?: {
    /** null: the provider's limit (the first batch 6,250, then 12,500) */
    max_requests?: number | null;
    /** bytes, or a size such as "100MB"; null: the provider's limit */
    max_bytes?: number | string | null;
    max_enqueued_tokens?: number | null;
    max_attempts?: number;
    /** ms, or a duration such as "30s" */
    poll_interval?: number | string;
    /** ms, or a duration such as "6h" */
    max_outage?: number | string;
    /** bytes, or a size such as "1GB"; 0 turns the result cache off */
    cache_max_size?: number | string;
    max_cost?: number | null;
    /** ms, or a duration such as "5m" */
    plugin_timeout?: number | string;
    /** ms, or a duration such as "12h"; null: none */
    deadline?: number | string | null;
  };
  /** default `.batchpipe/<name>` in run()'s `dir` */
  state_dir?: string;
  /** list prices, USD per 1M tokens, of models batchpipe does not know (a fine-tune): max_cost needs them */
  pricing?: Record<
    string,
    { input: number; output?: number; cached_input?: number; batch_discount?: number }
  >;
  /** context window and output limit of models batchpipe does not know */
  model_limits?: Record<string, { context_window: number; max_output_tokens: number }>;
}
export type ParsedWorkConfig = z.output<typeof workConfigSchema>;

// WorkConfig.batch must name every key the schema takes: a key it lacks is refused by tsc in a
// runner's workConfig although run() accepts it
type SchemaBatchKey = keyof NonNullable<z.input<typeof workConfigSchema>["batch"]>;
type MissingBatchKey = Exclude<SchemaBatchKey, keyof NonNullable<WorkConfig["batch"]>>;
const batchKeysCovered: [MissingBatchKey] extends [never] ? true : MissingBatchKey = true;
void batchKeysCovered;

export function parseWorkConfig(value: unknown, owner = "workConfig"): ParsedWorkConfig {
  if (value === undefined || value === null) {
    throw new BatchpipeError(ErrorCodes.SPEC_INVALID, `${owner} is missing`, {
      hint: 'Declare `static workConfig = { name: "my-work", endpoint: "/v1/chat/completions", model: "gpt-4o-mini" }` on the class.',
    });
  }
  const parsed = workConfigSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.map((issue) => {
    const at = issue.path.length > 0 ? `${owner}.${issue.path.join(".")}` : owner;
    const message =
      issue.code === "unrecognized_keys" ? `unknown key(s) ${issue.keys.join(", ")}` : issue.message;
    return new BatchpipeError(ErrorCodes.SPEC_INVALID, `${at}: ${message}`, { hint: hintFor(issue) });
  });
  const first = details[0]!;
  return failWith(
    new BatchpipeError(
      ErrorCodes.SPEC_INVALID,
      details.length === 1
        ? first.message
        : `${owner} has ${details.length} problems:\n${details.map((d) => `  ${d.message}`).join("\n")}`,
      { hint: first.hint, details },
    ),
  );
}

// --- internal ---

function hintFor(issue: z.core.$ZodIssue): string {
  const key = String(issue.path[0] ?? "");
  if (issue.code === "unrecognized_keys") {
    // the keys of the object that has the unknown ones: workConfig itself or a nested one (batch)
    const keys = keysAt(issue.path);
    const where = issue.path.length > 0 ? `The keys of ${issue.path.join(".")} are` : "The keys are";
    const guesses = issue.keys.flatMap((unknown) => {
      const close = closest(unknown, keys);
      return close ? [`"${close}" for "${unknown}"`] : [];
    });
    const guess = guesses.length > 0 ? `did you mean ${guesses.join(", ")}? ` : "";
    return `${guess}${where} ${keys.join(", ")}.`;
  }
  if (key === "endpoint") return `Use one of ${PROMPT_ENDPOINTS.join(", ")}.`;
  if (key === "name") return "The name keys the state folder (.batchpipe/<name>) and the batches' metadata.";
  if (key === "batch")
    return "batch takes the pipeline spec's batch options (max_requests, poll_interval, …).";
  if (key === "provider")
    return 'provider is { use: "openai" | "emulator", base_url?, api_key?, emulator? }.';
  return "See docs/programmatic-api.md for every workConfig key.";
}

/** the keys of the object schema at `path` under workConfigSchema (through optional/default/partial wrappers) */
function keysAt(path: readonly PropertyKey[]): string[] {
  let schema = unwrap(workConfigSchema);
  for (const key of path) {
    const shape = (schema as { shape?: Record<string, z.ZodType> }).shape;
    // a record (pricing: { <model>: {...} }): every key has the value's schema
    const value = (schema.def as { valueType?: z.ZodType }).valueType;
    if (shape && typeof key === "string" && Object.hasOwn(shape, key)) schema = unwrap(shape[key]!);
    else if (value) schema = unwrap(value);
    else return [];
  }
  const shape = (schema as { shape?: Record<string, z.ZodType> }).shape;
  return shape ? Object.keys(shape) : [];
}

function unwrap(schema: z.ZodType): z.ZodType {
  let inner = schema;
  while ("innerType" in inner.def) inner = inner.def.innerType as z.ZodType;
  return inner;
}

function failWith(error: BatchpipeError): never {
  throw error;
}
