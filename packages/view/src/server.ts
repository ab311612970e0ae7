/**
 * The viewer's HTTP server (node:http: a handful of GET routes need no framework). Read-only: every
 * method but GET and HEAD is refused. On loopback it answers only requests addressed to loopback
 * (a DNS-rebinding page cannot read it); on any other host it needs the access token in every URL.
 * The page and its script ship in ../assets (no CDN); the script renders data as text only, and
 * the Content-Security-Policy forbids inline script as a second line of defence.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { EnginePipeline } from "@batchpipe/core";
import { type Catalog, type CatalogEntry, createCatalog, recordFiles } from "./catalog.js";
import { type RecordQuery, scanRecords } from "./records.js";
import { cutReader, failuresView, recordView, runsView, runView } from "./run-view.js";

export interface ViewServerOptions {
  pipelines: { pipeline: EnginePipeline; stateDir?: string }[];
  /**
   * Pipelines to list beside them, asked again (at most every 1.5 s) when a page asks for the runs
   * or for a pipeline not listed: a spec written into the folder the viewer shows is listed without
   * restarting it. One whose spec file is listed replaces it (the spec was edited). (With or without it, a
   * pipeline whose spec file is gone, deleted or renamed, is no longer listed.)
   */
  discover?: () => Promise<CatalogEntry[]>;
  /** default 127.0.0.1 */
  host?: string;
  /** default 0: a free port */
  port?: number;
  /** required in every URL; default: a random token when `host` is not loopback, none on loopback */
  token?: string | null;
}

export interface ViewServer {
  /** the page's address (with the token when one is required) */
  url: string;
  port: number;
  close(): Promise<void>;
}

const ASSETS = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "assets");
/** the page's script modules */
const SCRIPTS = new Set(fs.readdirSync(ASSETS).filter((name) => name.endsWith(".js")));
const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".html": "text/html; charset=utf-8",
};
const HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};
/** records per page, and how long one records request may scan before it answers with a cursor */
const PAGE_SIZE = 50;
/** runs per pipeline on the runs page */
const RUNS_PAGE = 50;
const SCAN_BUDGET_MS = 300;
/** how often the pipelines to list are looked for again (options.discover) */
const DISCOVER_EVERY_MS = 1500;

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export async function startViewServer(options: ViewServerOptions): Promise<ViewServer> {
  const host = options.host ?? "127.0.0.1";
  const token =
    options.token !== undefined ? options.token : isLoopback(host) ? null : randomBytes(24).toString("hex");
  const catalog = createCatalog(options.pipelines);
  const discover = discoverer(catalog, options.discover);
  const server = http.createServer((req, res) => {
    const port = (server.address() as AddressInfo).port;
    handle(req, res, { catalog, discover, token, host, port }).catch((error: unknown) =>
      send(res, 500, { error: error instanceof Error ? error.message : String(error) }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/${token ? `?token=${token}` : ""}`,
    port,
    close: async () => {
      for (const view of catalog.list) view.state.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Context {
  catalog: Catalog;
  /** drops the pipelines whose spec is gone, lists those added since (options.discover) */
  discover: () => Promise<void>;
  token: string | null;
  host: string;
  port: number;
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, ctx: Context): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.setHeader("allow", "GET, HEAD");
    return send(res, 405, { error: "the viewer is read-only" });
  }
  const url = new URL(req.url ?? "/", "http://viewer");
  if (isLoopback(ctx.host) && !loopbackHost(req.headers.host, ctx.port)) {
    return send(res, 403, { error: "this viewer answers requests addressed to loopback only" });
  }
  // the token comes in the URL, or in the cookie the page got with it (the script's own imports
  // carry no query); the cookie's name holds the port: cookies do not tell ports apart
  const cookie = `batchpipe_view_${ctx.port}`;
  if (ctx.token) {
    const query = url.searchParams.get("token");
    if (!sameToken(query ?? cookieValue(req, cookie), ctx.token)) {
      return send(res, 403, { error: "a valid access token is required (the URL batchpipe view printed)" });
    }
    if (query) res.setHeader("set-cookie", `${cookie}=${ctx.token}; HttpOnly; SameSite=Strict; Path=/`);
  }
  const route = url.pathname;
  if (route === "/" || route === "/index.html") {
    // the assets' URLs carry the token too (it is hex: nothing to escape)
    return asset(res, "index.html", (html) =>
      html.replaceAll("{{query}}", ctx.token ? `?token=${ctx.token}` : ""),
    );
  }
  if (SCRIPTS.has(route.slice(1)) || route === "/style.css") return asset(res, route.slice(1));
  if (route === "/favicon.ico") return void res.writeHead(204, HEADERS).end();
  if (route === "/api/runs") {
    await ctx.discover();
    // every pipeline's newest runs; or one pipeline's, from an offset (its older runs, page by page)
    const key = url.searchParams.get("pipeline");
    const offset = offsetParam(url.searchParams.get("offset"));
    const pipelines = key === null ? ctx.catalog.list : ctx.catalog.list.filter((p) => p.key === key);
    if (key !== null && pipelines.length === 0) return notListed(res, ctx.catalog, key, "no such pipeline");
    return send(res, 200, {
      pipelines: runsView(pipelines, { offset, limit: RUNS_PAGE }),
      pageSize: RUNS_PAGE,
    });
  }
  if (!route.startsWith("/api/")) return send(res, 404, { error: "not found" });
  if (route === "/api/pipeline") {
    // an open page asks whether its pipeline is still listed
    await ctx.discover();
    const key = url.searchParams.get("pipeline") ?? "";
    const view = ctx.catalog.list.find((p) => p.key === key);
    if (!view) return notListed(res, ctx.catalog, key, "no such pipeline");
    return send(res, 200, { key: view.key, name: view.name, file: view.file });
  }

  const key = url.searchParams.get("pipeline") ?? "";
  // a link to a pipeline added since the last look, or one whose spec was removed since
  await ctx.discover();
  const view = ctx.catalog.list.find((p) => p.key === key);
  if (!view) return notListed(res, ctx.catalog, key, "no such pipeline or run");
  const run = view.state.run(url.searchParams.get("run") ?? "");
  if (!run) return send(res, 404, { error: "no such pipeline or run" });
  switch (route) {
    case "/api/run":
      return send(res, 200, runView(view, run, offsetParam(url.searchParams.get("batches"))));
    case "/api/failures":
      return send(res, 200, failuresView(view, run));
    case "/api/records": {
      const files = recordFiles(view, run);
      const page = scanRecords({
        files: files.files,
        query: recordQuery(url.searchParams),
        cursor: url.searchParams.get("cursor") ?? undefined,
        // the page asks for what its current page still lacks
        pageSize: Math.min(PAGE_SIZE, Math.max(1, Number(url.searchParams.get("limit")) || PAGE_SIZE)),
        budgetMs: SCAN_BUDGET_MS,
        cutOf: cutReader(view, run),
        from: fromParam(url.searchParams.get("from")),
      });
      return send(res, 200, { ...page, note: files.note });
    }
    case "/api/record": {
      const record = await recordView(view, run, url.searchParams.get("ref") ?? "");
      return record ? send(res, 200, record) : send(res, 404, { error: "no record at this place" });
    }
    default:
      return send(res, 404, { error: "not found" });
  }
}

/**
 * The pipelines whose spec file is gone dropped, then options.discover asked, at most every 1.5 s
 * (callers meanwhile share the last answer): a renamed spec is dropped before it is listed anew
 */
function discoverer(catalog: Catalog, discover: (() => Promise<CatalogEntry[]>) | undefined) {
  let last = 0;
  let pending: Promise<void> | null = null;
  return (): Promise<void> => {
    if (pending) return pending;
    if (Date.now() - last < DISCOVER_EVERY_MS) return Promise.resolve();
    catalog.prune();
    pending = (discover ? discover() : Promise.resolve([]))
      .then((found) => catalog.add(found))
      .finally(() => {
        last = Date.now();
        pending = null;
      });
    return pending;
  };
}

/** 404: the pipeline is not listed, or no longer (`gone`: its spec file was removed or renamed) */
function notListed(res: http.ServerResponse, catalog: Catalog, key: string, error: string): void {
  const file = catalog.gone(key);
  if (file === undefined) {
    send(res, 404, { error });
    return;
  }
  send(res, 404, {
    error: `This pipeline is no longer listed: its spec file ${file} was removed or renamed since the viewer listed it.`,
    gone: true,
  });
}

/** `s:N,e:M`: where each of the run's files is read from */
function fromParam(value: string | null): Partial<Record<"s" | "e", number>> | undefined {
  if (!value) return undefined;
  const from: Partial<Record<"s" | "e", number>> = {};
  for (const part of value.split(",")) {
    const m = /^([se]):(\d+)$/.exec(part);
    if (m) from[m[1] as "s" | "e"] = Number(m[2]);
  }
  return from;
}

const offsetParam = (value: string | null) => Math.max(0, Math.floor(Number(value) || 0));

function recordQuery(params: URLSearchParams): RecordQuery {
  const status = params.get("status");
  return {
    q: params.get("q") || undefined,
    status: status === "success" || status === "failed" ? status : undefined,
    code: params.get("code") || undefined,
  };
}

function loopbackHost(header: string | undefined, port: number): boolean {
  if (!header) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(header);
  if (!m) return false;
  const name = m[1]!.replace(/^\[|\]$/g, "");
  return isLoopback(name) && (m[2] === undefined ? port === 80 : Number(m[2]) === port);
}

function cookieValue(req: http.IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [key, value] = part.trim().split("=");
    if (key === name && value !== undefined) return value;
  }
  return null;
}

function sameToken(given: string | null, token: string): boolean {
  if (given === null) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function asset(res: http.ServerResponse, name: string, edit?: (text: string) => string): void {
  const text = fs.readFileSync(path.join(ASSETS, name), "utf8");
  const body = edit ? edit(text) : text;
  res.writeHead(200, { ...HEADERS, "content-type": TYPES[path.extname(name)] ?? "application/octet-stream" });
  res.end(body);
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { ...HEADERS, "content-type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(body));
}
