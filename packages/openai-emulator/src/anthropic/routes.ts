import type { IncomingMessage } from "node:http";
import { drain } from "../http/body.js";
import type { Dialect, Route, RouteFactory } from "../http/server.js";
import { anthropicLiveId, matchLiveRule } from "../live-rules.js";
import { checkCreateBody, readBody } from "./create.js";
import type { AnthropicBatches } from "./engine.js";
import {
  AnthropicError,
  anthropicErrorReply,
  anthropicFault,
  checkAnthropicAuth,
  invalid,
} from "./errors.js";
import { checkParams, respondMessage } from "./responder.js";
import { anthropicRuleError } from "./run.js";

/** Anthropic's Message Batches API (and a synchronous POST /v1/messages) on the emulator's port. */
export function anthropicDialect(batches: AnthropicBatches): Dialect {
  return {
    prefix: "/v1/messages",
    requestIdHeader: "request-id",
    checkAuth: checkAnthropicAuth,
    errorReply: anthropicErrorReply,
    faultError: anthropicFault,
    routes: (route) => routes(route, batches),
  };
}

function routes(route: RouteFactory, batches: AnthropicBatches): Route[] {
  const { ctx } = batches;
  return [
    route("POST", "/v1/messages/batches", async ({ req }) => {
      const body = await readBody(req, ctx.options.anthropicMaxBatchBytes);
      const requests = checkCreateBody(body, ctx.options);
      return { json: batches.create(requests, origin(req)) };
    }),
    route("GET", "/v1/messages/batches", ({ req, query }) => {
      const limit = limitParam(query.get("limit"));
      const page = batches.list(
        {
          limit,
          // an empty cursor is none, as `after=` is on OpenAI's lists
          afterId: query.get("after_id") || undefined,
          beforeId: query.get("before_id") || undefined,
        },
        origin(req),
      );
      return { json: page };
    }),
    route("GET", "/v1/messages/batches/:id", ({ req, params }) => ({
      json: batches.retrieve(params[0]!, origin(req)),
    })),
    route("POST", "/v1/messages/batches/:id/cancel", async ({ req, params }) => {
      await drain(req);
      return { json: batches.cancel(params[0]!, origin(req)) };
    }),
    route("DELETE", "/v1/messages/batches/:id", ({ params }) => ({ json: batches.delete(params[0]!) })),
    route("GET", "/v1/messages/batches/:id/results", ({ params }) => {
      const { path, bytes } = batches.results(params[0]!);
      return { file: path, bytes, headers: { "content-type": "application/binary" } };
    }),
    route("POST", "/v1/messages", async ({ req, requestId }) => {
      const body = await readBody(req, 32 * 1024 * 1024);
      if (!body || typeof body !== "object" || Array.isArray(body))
        throw invalid("Input should be a valid dictionary");
      const params = body as Record<string, unknown>;
      const error = checkParams(params, ctx.options.anthropicModels, false);
      if (error) throw new AnthropicError(error.status, error.message, { type: error.type });
      if (params.stream === true) throw invalid("stream: the emulator does not stream; send stream: false");
      const model = String(params.model);
      const failure = matchLiveRule({
        rules: ctx.options.lineRules,
        id: anthropicLiveId(params),
        body: params,
        attempts: batches.liveAttempts,
        seed: ctx.options.seed,
        model,
        requestId,
      });
      if (failure && !failure.stop) {
        const ruled = anthropicRuleError(failure, model);
        throw new AnthropicError(ruled.status, ruled.message, { type: ruled.type });
      }
      const answer = respondMessage(params, batches.ids, "standard", batches.promptCache, failure?.stop);
      return { json: answer.message };
    }),
  ];
}

/** Where this client reached us, for `results_url` (absolute, as the API gives it). */
function origin(req: IncomingMessage): string {
  return `http://${req.headers.host ?? "127.0.0.1"}`;
}

function limitParam(raw: string | null): number {
  if (raw === null || raw === "") return 20;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw invalid("limit: Input should be a valid integer");
  if (n < 1) throw invalid("limit: Input should be greater than or equal to 1");
  if (n > 1000) throw invalid("limit: Input should be less than or equal to 1000");
  return n;
}
