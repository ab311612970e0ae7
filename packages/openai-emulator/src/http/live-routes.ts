/**
 * OpenAI's live (synchronous) routes: one request answered by the responder at once, with the
 * line rules applied (live-rules.ts) and OpenAI's payload limit per request.
 */
import type { BatchEngine } from "../batches/engine.js";
import type { EmulatorContext } from "../context.js";
import { matchLiveRule, openaiLiveError, openaiLiveId } from "../live-rules.js";
import { respond } from "../responder/index.js";
import { LIVE_ENDPOINTS } from "../route-keys.js";
import { invalidRequest } from "./api-error.js";
import { BodyTooLarge, NOT_JSON, OPENAI_LIVE_BODY_LIMIT, readJson } from "./body.js";
import type { Reply, Route, RouteFactory } from "./server.js";

export function liveRoutes(route: RouteFactory, ctx: EmulatorContext, engine: BatchEngine): Route[] {
  return LIVE_ENDPOINTS.map((endpoint) =>
    route("POST", endpoint, async ({ req, requestId }) => {
      const body = await readJson(req, OPENAI_LIVE_BODY_LIMIT, bodyErrors).catch((e: unknown) => e);
      if (body instanceof BodyTooLarge) return tooLarge();
      if (body instanceof Error) throw body;
      if (!body || typeof body !== "object" || typeof (body as { model?: unknown }).model !== "string") {
        throw invalidRequest("you must provide a model parameter", "model", "missing_required_parameter");
      }
      const request = body as Record<string, unknown>;
      const failure = matchLiveRule({
        rules: ctx.options.lineRules,
        id: openaiLiveId(request),
        body: request,
        attempts: engine.attempts,
        seed: ctx.options.seed,
        model: request.model as string,
        requestId,
      });
      if (failure && !failure.stop) throw openaiLiveError(failure);
      const answer = respond(endpoint, request, {
        ids: ctx.ids,
        now: ctx.clock.nowSeconds(),
        stop: failure?.stop,
      });
      return { json: answer.body };
    }),
  );
}

const bodyErrors = {
  tooLarge: () => new BodyTooLarge(OPENAI_LIVE_BODY_LIMIT),
  notJson: () => invalidRequest(NOT_JSON),
};

/**
 * A live request past OPENAI_LIVE_BODY_LIMIT, as OpenAI answers it: its edge (Cloudflare) sends 413
 * with an HTML page, not the API's JSON error (a 413 whose body did not parse as JSON for
 * gpt-4-vision, OSU-NLP-Group/SeeAct#26; the page, openai/codex#2908). The SDK reads it as an
 * APIError with status 413 and no code.
 */
function tooLarge(): Reply {
  return {
    status: 413,
    raw: "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n",
    headers: { "content-type": "text/html" },
  };
}
