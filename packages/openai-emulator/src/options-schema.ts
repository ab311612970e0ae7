/**
 * EmulatorOptions as a strict zod schema: the `emulator` provider checks its `emulator:` block with
 * it, so `batchpipe validate` reports a typo (`timescale`) or a wrong type at its place, with a
 * "did you mean", instead of the run failing when the emulator starts. Kept in step with
 * options.ts by its types: every option has an entry (`satisfies`), and the output is an EmulatorOptions.
 */
import { z } from "@batchpipe/core/plugin";
import type { EmulatorOptions, FaultRule, LatencyOptions, LineRule } from "./options.js";
import { ROUTE_KEYS } from "./route-keys.js";

const nonNegative = z.number().min(0);
const count = z.int().min(0);
const rate = z.number().min(0).max(1);

const latencies = z.strictObject({
  validation: nonNegative.optional(),
  linesPerSecond: z.number().positive().optional(),
  finalizing: nonNegative.optional(),
  cancelDrain: nonNegative.optional(),
  expiryLag: nonNegative.optional(),
  queueReleaseLag: nonNegative.optional(),
  fileVisibility: nonNegative.optional(),
} satisfies Record<keyof LatencyOptions, z.ZodType>);

const route = z.string().refine((key) => key === "*" || ROUTE_KEYS.includes(key), {
  error: (issue) => `no route '${issue.input}': one of ${ROUTE_KEYS.join(", ")}, or *`,
});

const fault = z.strictObject({
  route,
  calls: z.array(z.int().positive()).optional(),
  rate: rate.optional(),
  kind: z.enum(["error", "delay", "drop", "reset"]).optional(),
  status: z.int().min(100).max(599).optional(),
  body: z.string().optional(),
  contentType: z.string().optional(),
  retryAfter: nonNegative.optional(),
  retryAfterMs: nonNegative.optional(),
  shouldRetry: z.boolean().optional(),
  delayMs: nonNegative.optional(),
  message: z.string().optional(),
} satisfies Record<keyof FaultRule, z.ZodType>);

const lineRule = z.strictObject({
  customIds: z.array(z.string()).optional(),
  customIdPattern: z.string().optional(),
  rate: rate.optional(),
  error: z
    .enum([
      "context_length_exceeded",
      "model_not_found",
      "rate_limit_exceeded",
      "server_error",
      "content_policy_violation",
      "request_timeout",
    ])
    .optional(),
  status: z.int().min(100).max(599).optional(),
  attempts: z.int().positive().optional(),
  message: z.string().optional(),
  oddity: z.enum(["omit", "malformed", "unknown_id", "long_line"]).optional(),
  lineBytes: z.int().positive().optional(),
  stop: z.enum(["content_filter"]).optional(),
} satisfies Record<keyof LineRule, z.ZodType>);

export const emulatorOptionsSchema: z.ZodType<EmulatorOptions> = z.strictObject({
  port: z.int().min(0).max(65_535).optional(),
  host: z.string().optional(),
  apiKey: z.string().optional(),
  seed: z
    .number()
    .optional()
    .meta({ description: "Seed for ids, output order, fault and line-rule rates. Default 1." }),
  timeScale: z.number().positive().optional().meta({
    description: "Virtual seconds per real second, e.g. 3600: an hour passes in a second. Default 1.",
  }),
  dataDir: z.string().optional(),
  queueLimits: z.record(z.string(), count).optional(),
  maxEnqueuedEmbeddingRequests: count.optional(),
  maxUploadBytes: count.optional(),
  uploadJsonlCheck: z.boolean().optional(),
  maxBatchBytes: count.optional(),
  maxBatchLines: count.optional(),
  maxEmbeddingInputs: count.optional(),
  creationRateLimitPerHour: count.optional(),
  shuffleOutput: z.boolean().optional(),
  emptyStringIds: z.boolean().optional(),
  failFastTokenLimit: z.boolean().optional(),
  syncFileCheck: z.boolean().optional(),
  endpoints: z.array(z.string()).optional(),
  models: z.array(z.string()).optional(),
  latencies: latencies.optional(),
  faults: z.array(fault).optional(),
  lineRules: z.array(lineRule).optional(),
  expireAfterLines: count.optional(),
  anthropicModels: z.array(z.string()).optional(),
  anthropicQueueLimit: count.optional(),
  anthropicMaxBatchRequests: count.optional(),
  anthropicMaxBatchBytes: count.optional(),
  omitExpiresAt: z.boolean().optional(),
} satisfies Record<keyof EmulatorOptions, z.ZodType>);

/**
 * `given` checked against emulatorOptionsSchema: a misspelt option (`customId` for `customIds`) or a
 * wrong type is an Error naming it, where it silently did nothing (its lines all failed or passed).
 */
export function checkEmulatorOptions(given: unknown, where: string): EmulatorOptions {
  const result = emulatorOptionsSchema.safeParse(given);
  if (result.success) return given as EmulatorOptions;
  const problems = result.error.issues.flatMap((issue) =>
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => `unknown option '${[...issue.path, key].join(".")}'`)
      : [`${issue.path.join(".") || "options"}: ${issue.message}`],
  );
  // a TypeError: the bin shows its message alone (the user's to fix)
  throw new TypeError(`${where}: ${problems.join("; ")}`);
}
