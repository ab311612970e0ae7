/**
 * The envelope schema of a pipeline spec (DESIGN §1). Plugin references are checked here only for
 * their `use`; each plugin's options are then checked by that plugin's own strict schema.
 */
import { z } from "zod";
import type { Plugin, SinkPlugin, SourcePlugin, TransformPlugin } from "../plugin.js";
import { isPluginObject } from "../plugins/shape.js";
import { parseDuration, parseSize } from "./units.js";

/** A plugin named by `use`, with its options flat beside it. */
export interface PluginRef {
  /** a built-in name, a package (`@batchpipe/sink-x`, `batchpipe-sink-x`), a path (`./plugins/x.ts`) or, from TypeScript, a plugin object */
  use: string | Plugin;
  [option: string]: unknown;
}

export interface BatchSpec {
  completion_window: string;
  /** null: the provider's limit */
  max_requests: number | null;
  /** bytes; null: the provider's limit */
  max_bytes: number | null;
  max_enqueued_tokens: number | null;
  max_attempts: number;
  /** milliseconds */
  poll_interval: number;
  /** milliseconds the provider may stay unreachable after submission before the run stops */
  max_outage: number;
  clean_up: boolean;
  allow_same_dataset: boolean;
  /** bytes of compressed results the result cache keeps */
  cache_max_size: number;
  /** USD */
  max_cost: number | null;
  /** milliseconds a sink call may take before the run stops */
  plugin_timeout: number;
  /** milliseconds after the run starts; then open batches are cancelled and the rest goes live */
  deadline: number | null;
}

/** A spec after defaults: durations in milliseconds, sizes in bytes. */
export interface PipelineSpec {
  version: 1;
  name: string;
  /** the batch API: `use` names a provider plugin (openai, emulator, a package or a path) */
  provider: PluginRef;
  source: PluginRef;
  transform: PluginRef;
  batch: BatchSpec;
  sinks: PluginRef[];
  errors: PluginRef[];
  /** who is told when a run ends */
  notify: NotifyTarget[];
  /** list prices (USD per 1M tokens) of models batchpipe does not know, or overrides */
  pricing: Record<string, PricingEntry>;
  /** context windows and output limits of models batchpipe does not know, or overrides */
  model_limits?: Record<string, ModelLimitsEntry>;
}

export interface ModelLimitsEntry {
  context_window: number;
  max_output_tokens: number;
}

export interface PricingEntry {
  input: number;
  output: number;
  cached_input?: number;
  /** the batch API's discount off these list prices (0.5: half price) */
  batch_discount: number;
}

/** A webhook that receives the run's end report as JSON, or a shell command that gets it on stdin. */
export type NotifyTarget = { webhook: string; headers?: Record<string, string> } | { command: string };

export type AnyPlugin = SourcePlugin | TransformPlugin | SinkPlugin;

const SLUG = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const DURATION_TEXT = /^\d+(?:\.\d+)?\s*(?:ms|s|m|h|d)$/;
const SIZE_TEXT = /^\d+(?:\.\d+)?\s*(?:B|KB|MB|GB|KiB|MiB|GiB)$/i;

const DURATION_ERROR = 'expected a duration such as "200ms", "30s", "5m" or "24h" (a number is milliseconds)';
const SIZE_ERROR = 'expected a size such as "512KB", "1MB" or "200MB" (a number is bytes; 1MB = 1024 KB)';

export const duration = (description: string) =>
  z
    .union([z.number().nonnegative(), z.string().regex(DURATION_TEXT, { error: DURATION_ERROR })], {
      error: DURATION_ERROR,
    })
    .transform((value) => parseDuration(value) as number)
    .meta({ description });

export const size = (description: string, max: number) =>
  z
    .union([z.number().int().nonnegative(), z.string().regex(SIZE_TEXT, { error: SIZE_ERROR })], {
      error: SIZE_ERROR,
    })
    .transform((value, ctx) => {
      const bytes = parseSize(value) as number;
      if (bytes > max)
        ctx.addIssue({ code: "custom", message: `must be at most ${formatBytes(max)}`, input: value });
      return bytes;
    })
    .meta({ description });

const pluginObject = z.custom<Plugin>(isPluginObject, {
  error: "expected a plugin name, package, path or plugin object",
});

/** `use` plus the plugin's options; the options are checked later by the plugin's schema */
export const pluginRefSchema = z.looseObject({
  use: z.union([z.string().min(1), pluginObject], { error: "expected a plugin name, package or path" }).meta({
    description:
      "A built-in name (jsonl), a package (@batchpipe/sink-x, batchpipe-sink-x) or a path (./plugins/x.ts).",
  }),
});

export const batchSchema = z
  .strictObject({
    completion_window: z
      .string()
      .regex(/^\d+h$/, { error: 'expected a window in hours such as "24h"' })
      .default("24h")
      .meta({ description: "Passed to the provider; OpenAI accepts only 24h." }),
    max_requests: z.number().int().min(1).nullable().default(null).meta({
      description:
        "Requests per batch, at most the provider's limit (OpenAI: 50000); unset: 6250 in the first batch, then 12500.",
    }),
    max_bytes: size(
      "Bytes per batch; default and maximum: the provider's limit (OpenAI: 200MB; binary multiples: 1MB = 1,048,576 bytes).",
      Number.MAX_SAFE_INTEGER,
    )
      .nullable()
      .default(null),
    max_enqueued_tokens: z
      .number()
      .int()
      .positive()
      .nullable()
      .default(null)
      .meta({ description: "The model's enqueued-token budget; null: learn it from token_limit_exceeded." }),
    max_attempts: z
      .number()
      .int()
      .min(1)
      .default(3)
      .meta({ description: "Attempts per request: failed or expired requests are resubmitted until this." }),
    poll_interval: duration("How often open batches are polled.").default(30_000),
    max_outage: duration(
      "How long the provider may stay unreachable (or keep failing) after work was submitted; past it the run stops with its state saved (exit 1) and a rerun resumes. Retries in between are at most 2 minutes apart.",
    )
      .refine((ms) => ms > 0, { error: "must be more than 0" })
      .default(6 * 3_600_000),
    clean_up: z.boolean().default(true).meta({
      description:
        "Once a shard is collected, delete its files at the provider and its local files (the meta file once the read has ended); the rest when the run ends.",
    }),
    allow_same_dataset: z.boolean().default(false).meta({
      description:
        "false: a request that already succeeded under this name is answered from the result cache, not paid for again; true: every request is sent (as run --no-cache).",
    }),
    cache_max_size: size(
      "The result cache's bound (.batchpipe/<name>/cache.db, compressed results): past it the oldest entries go first. 0: the cache is off (nothing is answered from it or stored; what it holds stays until `batchpipe cache --clear`).",
      Number.MAX_SAFE_INTEGER,
    ).default(1024 ** 3),
    max_cost: z.number().positive().nullable().default(null).meta({
      description:
        "US dollars: a run whose whole estimate is above it (or unknown: see pricing) is refused before it submits anything; then each batch is checked against the actual spend.",
    }),
    plugin_timeout: duration(
      "How long one sink call may take; a call that hangs longer stops the run (PLUGIN_FAILED), which resumes on the next run.",
    )
      .refine((ms) => ms > 0, { error: "must be more than 0" })
      .default(5 * 60_000),
    deadline: duration(
      "How long the run may take (from its start): then its open batches are cancelled and every request without a result is sent through the provider's live API, at live prices (plan shows the worst case). Default: no deadline.",
    )
      .refine((ms) => ms > 0, { error: "must be more than 0" })
      .nullable()
      .default(null),
  })
  .meta({ description: "How requests are split into batches and tracked." });

export const providerSchema = pluginRefSchema
  .extend({ use: pluginRefSchema.shape.use.default("openai") })
  .meta({
    description:
      "Where batches are sent: openai (the OpenAI API or a compatible one at base_url), emulator (in process, no key, no network), a package or a path. Default: openai with OPENAI_API_KEY / OPENAI_BASE_URL.",
  });

export const notifySchema = z
  .array(
    z.union(
      [
        z.strictObject({
          webhook: z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }).meta({
            description:
              "POST the run's end report as JSON here (5 tries with backoff); may be an environment reference.",
          }),
          headers: z
            .record(z.string(), z.string())
            .optional()
            .meta({ description: "Extra request headers." }),
        }),
        z.strictObject({
          command: z.string().min(1).meta({
            description: "A shell command run in the spec's folder with the report as JSON on stdin.",
          }),
        }),
      ],
      { error: "expected { webhook: <url> } or { command: <shell command> }" },
    ),
  )
  .default([])
  .meta({
    description:
      "Who is told when a run ends, however it ends (finished, failed records, stopped on an error).",
  });

export const pricingSchema = z
  .record(
    z.string().min(1),
    z.strictObject({
      input: z.number().min(0).meta({ description: "List price of input tokens, USD per 1M." }),
      output: z.number().min(0).default(0).meta({ description: "List price of output tokens, USD per 1M." }),
      cached_input: z
        .number()
        .min(0)
        .optional()
        .meta({ description: "List price of cached input tokens, USD per 1M (default: the input price)." }),
      batch_discount: z.number().min(0).max(1).default(0.5).meta({
        description: "The batch API's discount off the list prices: 0.5 is half price (OpenAI, Anthropic).",
      }),
    }),
  )
  .default({})
  .meta({
    description:
      "Per-model list prices for models batchpipe does not know (or to override its table), e.g. for OpenAI-compatible providers; plan, max_cost and the report use them.",
  });

export const modelLimitsSchema = z
  .record(
    z.string().min(1),
    z.strictObject({
      context_window: z
        .number()
        .int()
        .positive()
        .meta({ description: "Tokens of input and output the model holds together." }),
      max_output_tokens: z
        .number()
        .int()
        .positive()
        .meta({ description: "The most output tokens a request may ask for (max_tokens)." }),
    }),
  )
  .default({})
  .meta({
    description:
      "Per-model context window and output limit for models batchpipe does not know (or to override its table): a request over them fails before it is sent, one that may not fit is named by plan. Models in neither are not checked.",
  });

export const pipelineSchema = z
  .strictObject({
    version: z.literal(1, { error: "expected 1 (the only spec version)" }),
    name: z
      .string()
      .regex(SLUG, {
        error:
          "expected a slug: letters, digits, - and _, starting with a letter or digit, at most 64 characters",
      })
      .meta({ description: "The work name: keys the run state and the batches' metadata." }),
    provider: providerSchema.prefault({}),
    source: pluginRefSchema.meta({ description: "Where records come from." }),
    transform: pluginRefSchema
      .extend({ use: pluginRefSchema.shape.use.default("prompt") })
      .prefault({})
      .meta({ description: "Turns a record into a request. Default: the built-in prompt transform." }),
    batch: batchSchema.prefault({}),
    sinks: z
      .array(pluginRefSchema)
      .min(1, { error: "expected at least one sink" })
      .meta({ description: "Where successes go, each exactly once, in every sink." }),
    errors: z.array(pluginRefSchema).optional().meta({
      description:
        "Where final failures go. Default: a jsonl sink at .batchpipe/<name>/errors.jsonl, which keeps each failure row whole (id, error, attempts, batch_id, input, source).",
    }),
    notify: notifySchema,
    pricing: pricingSchema,
    model_limits: modelLimitsSchema,
  })
  .meta({ title: "batchpipe pipeline", description: "A batchpipe pipeline spec (version 1)." });

export function formatBytes(bytes: number): string {
  for (const [unit, factor] of [
    ["GB", 1024 ** 3],
    ["MB", 1024 ** 2],
    ["KB", 1024],
  ] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return `${bytes} bytes`;
}
