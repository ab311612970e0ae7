/**
 * `tryPipeline`: the first N records (or the named ones) rendered and sent through the provider's
 * live API, one at a time, so a user sees what the model answers before paying for a batch. It
 * writes nothing: no state folder, no lock, no sink.
 */
import path from "node:path";
import { BatchpipeError, ErrorCodes } from "../errors.js";
import { estimateRequestTokens } from "../estimate/estimate-tokens.js";
import { estimateCost, livePricesFor } from "../estimate/pricing.js";
import {
  isInvalidRecord,
  type Logger,
  type RecordPosition,
  type RequestLine,
  silentLogger,
} from "../plugin.js";
import { createTransform } from "../plugins/contract.js";
import type { LiveResult, OutputResult } from "../provider/contract.js";
import { createLimitsCheck } from "./read/limits-check.js";
import { guardSource, toRequest } from "./read/read-errors.js";
import { recordJson, tooDeep } from "./read/too-deep.js";
import { openProvider } from "./run-pipeline.js";
import type { EnginePipeline } from "./types.js";

export interface TryOptions {
  /** records to send (default 5); ignored when `ids` is given */
  limit?: number;
  /** send these records (by the request's custom_id) instead of the first ones */
  ids?: readonly string[];
  env?: Record<string, string | undefined>;
  signal?: AbortSignal;
  logger?: Logger;
}

/** One record tried: the request as sent and the live answer, or why it was not sent. */
export type TryItem = {
  id: string;
  source: RecordPosition;
} & (
  | {
      sent: true;
      request: RequestLine;
      result: LiveResult;
      /** the convenient output (as sinks would get it) of a success */
      output: OutputResult | null;
      /** USD at live prices; null when the model's price is unknown */
      cost: number | null;
      ms: number;
    }
  | { sent: false; error: { code: string; message: string } }
);

export async function* tryPipeline(
  pipeline: EnginePipeline,
  options: TryOptions = {},
): AsyncGenerator<TryItem> {
  const signal = options.signal ?? new AbortController().signal;
  const logger = options.logger ?? silentLogger;
  const wanted = options.ids ? new Set(options.ids) : null;
  const limit = wanted ? wanted.size : (options.limit ?? 5);
  const resolvePath = (p: string) => path.resolve(pipeline.dir, p);
  const transform = await createTransform(pipeline.transform, { resolvePath, logger, signal });
  const provider = await openProvider(pipeline, { env: options.env ?? process.env, logger, signal });
  try {
    if (!provider.live) {
      throw new BatchpipeError(
        ErrorCodes.USAGE,
        `the ${pipeline.provider.label} has no live API, so records cannot be tried one by one`,
        {
          hint: "Use `batchpipe plan` to see the requests and their cost, or a provider with live calls (openai, emulator).",
        },
      );
    }
    const prices = livePricesFor(pipeline.spec.pricing);
    const { plugin, options: providerOptions } = pipeline.provider;
    const modelLimits = createLimitsCheck(pipeline.spec.model_limits);
    let done = 0;
    /** the provider has answered a live call of this try */
    let answered = false;
    const records = guardSource(
      pipeline.source.plugin.read({
        options: pipeline.source.options,
        resolvePath,
        logger,
        signal,
        checkpoint: undefined,
      }),
      pipeline.source.label,
    );
    for await (const item of records) {
      if (done >= limit) break;
      if (isInvalidRecord(item)) {
        if (wanted) continue;
        done++;
        yield { id: `(line ${item.position.line})`, source: item.position, sent: false, error: item.invalid };
        continue;
      }
      // as the read: a record nested too deeply to serialise is not sent (read/too-deep.ts)
      if (recordJson(item.data) === undefined) {
        if (wanted) continue;
        done++;
        yield {
          id: `(line ${item.position.line})`,
          source: item.position,
          sent: false,
          error: tooDeep(item).invalid,
        };
        continue;
      }
      const request = toRequest(transform, item, pipeline.transform.label);
      if (request instanceof BatchpipeError) {
        if (wanted) continue;
        done++;
        yield {
          id: request.recordId || `(line ${item.position.line})`,
          source: item.position,
          sent: false,
          error: { code: request.code, message: request.message },
        };
        continue;
      }
      if (wanted && !wanted.has(request.custom_id)) continue;
      done++;
      const { line, model, json } = plugin.encode(request, providerOptions);
      // as the read: a request over its model's limits is not sent
      const overLimit = modelLimits.failure(
        request.custom_id,
        model,
        estimateRequestTokens(request),
        request.body,
      );
      if (overLimit?.fail) {
        yield {
          id: request.custom_id,
          source: item.position,
          sent: false,
          error: { code: overLimit.code, message: overLimit.message },
        };
        continue;
      }
      const started = Date.now();
      const result = await provider.live(line, { signal });
      const ms = Date.now() - started;
      // no answer at all, or the key refused, before the provider ever answered: what `run` calls
      // PROVIDER_UNREACHABLE (exit 1), not a failed request (exit 3)
      if (!answered && unreachable(result)) throw unreachableError(result, pipeline.provider.label);
      answered = true;
      const usage = result.kind === "success" ? result.usage : null;
      yield {
        id: request.custom_id,
        source: item.position,
        sent: true,
        request,
        result,
        output:
          result.kind === "success" ? plugin.output(result.response, { endpoint: request.url, json }) : null,
        cost: usage
          ? estimateCost({
              model: result.kind === "success" ? (result.model ?? model) : model,
              inputTokens: usage.input_tokens,
              outputTokens: usage.output_tokens,
              cachedTokens: usage.cached_tokens,
              cacheWriteTokens: usage.cache_creation_tokens,
              cacheWrite1hTokens: usage.cache_creation_1h_tokens,
              prices,
            })
          : null,
        ms,
      };
    }
  } finally {
    await provider.close().catch(() => undefined);
  }
}

/** a live call that found no API (a connection error, whatever its cause) or whose key was refused */
function unreachable(result: LiveResult): result is Extract<LiveResult, { kind: "failure" }> {
  if (result.kind !== "failure") return false;
  const status = result.error.status_code;
  return status === 401 || status === 403 || (status === null && result.error.code === "connection_error");
}

function unreachableError(
  result: Extract<LiveResult, { kind: "failure" }>,
  provider: string,
): BatchpipeError {
  const refused = result.error.status_code !== null;
  return new BatchpipeError(
    ErrorCodes.PROVIDER_UNREACHABLE,
    `${refused ? `the provider refused the API key (HTTP ${result.error.status_code})` : "no answer from the provider"} for the first record tried (${result.id}): ${result.error.message}`,
    {
      plugin: provider,
      hint: refused
        ? "Check the API key (the provider's env variable or provider.api_key) and that provider.base_url is the provider it belongs to."
        : "Check provider.base_url (the address and port, http vs https), that the server is running and reachable from here (network, proxy, firewall), and provider.timeout_ms for a slow one.",
    },
  );
}
