import { randomBytes } from "node:crypto";
import fs from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream";
import { setTimeout as sleepReal } from "node:timers/promises";
import type { BatchEngine } from "../batches/engine.js";
import { bump, type EmulatorContext } from "../context.js";
import { publicFile } from "../files/store.js";
import { receiveUpload } from "../files/upload.js";
import type { FaultRule } from "../options.js";
import { hashUnit } from "../random.js";
import { ROUTE_KEYS } from "../route-keys.js";
import { ApiError, invalidRequest, notFound } from "./api-error.js";
import { drain, readJson } from "./body.js";
import { liveRoutes } from "./live-routes.js";

/** What a route handler hands back: a JSON body, or a file streamed from disk. */
export type Reply =
  | { status?: number; json: unknown; headers?: Record<string, string> }
  | { status?: number; file: string; bytes: number; headers?: Record<string, string> }
  | { status?: number; raw: string; headers?: Record<string, string> };

export interface Call {
  req: IncomingMessage;
  params: string[];
  query: URLSearchParams;
  /** this answer's x-request-id (request-id on Anthropic's routes) */
  requestId: string;
}

export interface Route {
  method: string;
  /** "METHOD /v1/path/:id" — the key used for call counts and fault rules. */
  key: string;
  pattern: RegExp;
  handler(call: Call): Promise<Reply> | Reply;
}

export type RouteFactory = (method: string, path: string, handler: Route["handler"]) => Route;

/**
 * Another API served on the same port under `prefix` (Anthropic's /v1/messages), with its own auth,
 * request-id header and error envelope; call counts and fault rules are shared with the OpenAI routes.
 */
export interface Dialect {
  prefix: string;
  requestIdHeader: string;
  /** The error to answer instead of the call, or undefined when the credentials pass. */
  checkAuth(req: IncomingMessage, apiKey: string | undefined): unknown;
  errorReply(error: unknown, requestId: string): Reply;
  faultError(fault: FaultRule): unknown;
  routes(route: RouteFactory): Route[];
}

export interface ServerParts {
  ctx: EmulatorContext;
  dialects?: Dialect[];
  engine: BatchEngine;
  calls: Map<string, number>;
  /** The /_emulator/* endpoints (no auth). */
  internal(method: string, path: string, req: IncomingMessage): Promise<Reply | undefined>;
  /** aborted when the emulator closes: a delayed answer then ends without one */
  closing?: AbortSignal;
}

/** The request listener: auth, x-request-id, call counting, faults, routing and error envelopes. */
export function createHandler(parts: ServerParts) {
  const routes = buildRoutes(parts);
  return (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        send(res, errorReply(new ApiError(500, `Internal emulator error: ${(error as Error).message}`)));
      } else {
        res.destroy();
      }
    });
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { ctx, calls } = parts;
    // not from the seeded stream: poll counts vary with timing and must not shift batch/file ids
    const requestId = `req_${randomBytes(16).toString("hex")}`;
    const url = new URL(req.url ?? "/", "http://emulator");
    const method = req.method ?? "GET";
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const dialect = parts.dialects?.find((d) => path === d.prefix || path.startsWith(`${d.prefix}/`));
    res.setHeader(dialect?.requestIdHeader ?? "x-request-id", requestId);
    const fail = (error: unknown) => (dialect ? dialect.errorReply(error, requestId) : errorReply(error));

    if (path.startsWith("/_emulator/")) {
      const reply = await parts.internal(method, path, req).catch((e: unknown) => errorReply(e));
      if (reply) return send(res, reply);
      await drain(req);
      return send(res, errorReply(notFound(`Invalid URL (${method} ${path})`)));
    }

    let match: { route: Route; params: string[] } | undefined;
    for (const route of routes) {
      if (route.method !== method) continue;
      const m = route.pattern.exec(path);
      if (m) {
        match = { route, params: m.slice(1).map(decodeParam) };
        break;
      }
    }
    if (!match) {
      await drain(req);
      return send(res, fail(notFound(`Invalid URL (${method} ${path})`)));
    }
    const key = match.route.key;
    const n = (calls.get(key) ?? 0) + 1;
    calls.set(key, n);

    const auth = (dialect ?? { checkAuth }).checkAuth(req, ctx.options.apiKey);
    if (auth) {
      await drain(req);
      return send(res, fail(auth));
    }

    const fault = pickFault(ctx.options.faults, key, n, ctx.options.seed);
    if (fault) bump(ctx, "faults_injected");
    if (fault?.delayMs) {
      const waited = await sleepReal(fault.delayMs, true, { signal: parts.closing }).catch(() => false);
      if (!waited) return;
    }
    if (fault?.kind === "reset") {
      // a network outage: the connection closes without an answer
      req.socket.destroy();
      return;
    }
    const faulted = (rule: FaultRule) => (dialect ? fail(dialect.faultError(rule)) : faultReply(rule));
    if (fault && (fault.kind ?? "error") === "error") {
      await drain(req);
      return send(res, faulted(fault));
    }
    let reply: Reply;
    try {
      reply = await match.route.handler({
        req,
        params: match.params,
        query: url.searchParams,
        requestId,
      });
    } catch (error) {
      await drain(req);
      reply = fail(error);
    }
    if (fault?.kind === "drop") return send(res, faulted(fault));
    send(res, reply);
  }
}

function buildRoutes({ ctx, engine, dialects }: ServerParts): Route[] {
  const { store } = ctx;
  const route: RouteFactory = (method, path, handler) => {
    const key = `${method} ${path}`;
    // fault rules are checked against ROUTE_KEYS: a route missing there could not be faulted
    if (!ROUTE_KEYS.includes(key)) throw new Error(`route ${key} is missing from ROUTE_KEYS`);
    return { method, key, pattern: new RegExp(`^${path.replace(/:id/g, "([^/]+)")}$`), handler };
  };
  const mustFile = (id: string) => {
    const file = store.get(id);
    if (!file) throw notFound(`No such File object: ${id}`);
    return file;
  };
  const routes: Route[] = [
    route("POST", "/v1/files", async ({ req }) => {
      const file = await receiveUpload(req, store, ctx.options.maxUploadBytes, ctx.options.uploadJsonlCheck);
      return { json: publicFile(file) };
    }),
    route("GET", "/v1/files", ({ query }) => {
      const limit = intParam(query, "limit", 10_000, 1, 10_000);
      const order = query.get("order") ?? "desc";
      if (order !== "asc" && order !== "desc") {
        throw invalidRequest(
          `Invalid value: '${order}'. Supported values are: 'asc' and 'desc'.`,
          "order",
          "invalid_value",
        );
      }
      const page = store.list({
        after: query.get("after") ?? undefined,
        limit,
        order,
        purpose: query.get("purpose") ?? undefined,
      });
      return { json: listBody(page.data.map(publicFile), page.has_more) };
    }),
    route("GET", "/v1/files/:id", ({ params }) => ({ json: publicFile(mustFile(params[0]!)) })),
    route("DELETE", "/v1/files/:id", ({ params }) => {
      const file = mustFile(params[0]!);
      store.delete(file.id);
      return { json: { id: file.id, object: "file", deleted: true } };
    }),
    route("GET", "/v1/files/:id/content", ({ params }) => {
      const file = mustFile(params[0]!);
      return { file: file.path, bytes: file.bytes, headers: { "content-type": "application/octet-stream" } };
    }),
    route("POST", "/v1/batches", async ({ req }) => ({ json: await engine.create(await readJson(req)) })),
    route("GET", "/v1/batches", ({ query }) => {
      const limit = intParam(query, "limit", 20, 1, 100);
      const page = engine.list(query.get("after") ?? undefined, limit);
      return { json: listBody(page.data, page.has_more) };
    }),
    route("GET", "/v1/batches/:id", ({ params }) => ({ json: engine.retrieve(params[0]!) })),
    route("POST", "/v1/batches/:id/cancel", async ({ req, params }) => {
      await drain(req);
      return { json: engine.cancel(params[0]!) };
    }),
  ];
  routes.push(...liveRoutes(route, ctx, engine));
  for (const dialect of dialects ?? []) routes.push(...dialect.routes(route));
  return routes;
}

function checkAuth(req: IncomingMessage, apiKey: string | undefined): ApiError | undefined {
  const header = req.headers.authorization ?? "";
  const token = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
  if (!token) {
    return new ApiError(
      401,
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
      { type: "invalid_request_error", code: "invalid_api_key" },
    );
  }
  if (apiKey !== undefined && token !== apiKey) {
    const shown = token.length > 8 ? `${token.slice(0, 3)}*****${token.slice(-4)}` : "*****";
    return new ApiError(
      401,
      `Incorrect API key provided: ${shown}. You can find your API key at https://platform.openai.com/account/api-keys.`,
      { type: "invalid_request_error", code: "invalid_api_key" },
    );
  }
  return undefined;
}

/** The first fault rule that fires for call `n` of `key` (rates are seeded per route and call index). */
export function pickFault(
  rules: readonly FaultRule[],
  key: string,
  n: number,
  seed: number,
): FaultRule | undefined {
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    if (rule.route !== "*" && rule.route !== key) continue;
    if (rule.calls && !rule.calls.includes(n)) continue;
    if (rule.rate !== undefined && hashUnit(seed, "fault", i, key, n) >= rule.rate) continue;
    return rule;
  }
  return undefined;
}

function faultReply(fault: FaultRule): Reply {
  const headers: Record<string, string> = {};
  if (fault.body !== undefined) {
    // not the API's answer at all (a proxy's page, an empty body): sent as given
    headers["content-type"] = fault.contentType ?? "text/html";
    return { status: fault.status ?? 200, raw: fault.body, headers };
  }
  const status = fault.status ?? 500;
  if (fault.retryAfter !== undefined) headers["retry-after"] = String(fault.retryAfter);
  if (fault.retryAfterMs !== undefined) headers["retry-after-ms"] = String(fault.retryAfterMs);
  if (fault.shouldRetry !== undefined) headers["x-should-retry"] = String(fault.shouldRetry);
  const defaults: Record<number, [string, string, string | null]> = {
    429: ["Rate limit reached for requests. Please try again later.", "requests", "rate_limit_exceeded"],
    500: ["The server had an error while processing your request. Sorry about that!", "server_error", null],
    502: ["Bad gateway.", "server_error", null],
    503: ["The server is overloaded or not ready yet.", "server_error", null],
  };
  const [message, type, code] = defaults[status] ?? ["Injected fault.", "server_error", null];
  return errorReply(new ApiError(status, fault.message ?? message, { type, code, headers }));
}

export function errorReply(error: unknown): Reply {
  const api =
    error instanceof ApiError ? error : new ApiError(500, `Internal emulator error: ${String(error)}`);
  return { status: api.status, json: api.toJSON(), headers: api.headers };
}

function send(res: ServerResponse, reply: Reply): void {
  res.statusCode = reply.status ?? 200;
  for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
  if ("file" in reply) {
    let fd: number;
    try {
      fd = fs.openSync(reply.file, "r");
    } catch {
      send(res, errorReply(notFound("The file content is no longer available.")));
      return;
    }
    res.setHeader("content-length", String(reply.bytes));
    // pipeline closes the descriptor when the client goes away mid-download
    pipeline(fs.createReadStream("", { fd }), res, () => {});
    return;
  }
  if ("raw" in reply) {
    res.setHeader("content-length", String(Buffer.byteLength(reply.raw)));
    res.end(reply.raw);
    return;
  }
  const body = JSON.stringify(reply.json);
  res.setHeader("content-type", "application/json");
  res.setHeader("content-length", String(Buffer.byteLength(body)));
  res.end(body);
}

/** a path id as sent when it is not valid percent-encoding: then it names nothing (404), not a 500 */
function decodeParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function listBody<T extends { id: string }>(data: T[], hasMore: boolean) {
  return {
    object: "list",
    data,
    first_id: data[0]?.id ?? null,
    last_id: data[data.length - 1]?.id ?? null,
    has_more: hasMore,
  };
}

function intParam(query: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = query.get(name);
  if (raw === null || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n)) {
    throw invalidRequest(
      `Invalid '${name}': expected an integer, but got '${raw}' instead.`,
      name,
      "invalid_type",
    );
  }
  if (n < min) {
    throw invalidRequest(
      `Invalid '${name}': integer below minimum value. Expected a value >= ${min}, but got ${n} instead.`,
      name,
      "integer_below_min_value",
    );
  }
  if (n > max) {
    throw invalidRequest(
      `Invalid '${name}': integer above maximum value. Expected a value <= ${max}, but got ${n} instead.`,
      name,
      "integer_above_max_value",
    );
  }
  return n;
}
