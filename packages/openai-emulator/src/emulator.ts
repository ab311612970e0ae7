import { randomInt } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { AnthropicBatches, type AnthropicState } from "./anthropic/engine.js";
import { anthropicDialect } from "./anthropic/routes.js";
import { BatchEngine } from "./batches/engine.js";
import { createClock } from "./clock.js";
import type { EmulatorContext } from "./context.js";
import { FileStore } from "./files/store.js";
import { invalidRequest } from "./http/api-error.js";
import { readJson } from "./http/body.js";
import { createHandler, type Reply } from "./http/server.js";
import { type EmulatorOptions, mergeOptions, type ResolvedOptions, resolveOptions } from "./options.js";
import { checkEmulatorOptions } from "./options-schema.js";
import { createIds, createRandom } from "./random.js";
import { type EmulatorState, snapshotState } from "./state.js";

export interface Emulator {
  /** Base URL for the SDK: "http://127.0.0.1:<port>/v1". */
  readonly url: string;
  /** Server root without /v1: "http://127.0.0.1:<port>" (the Anthropic SDK's baseURL; the /_emulator endpoints live here). */
  readonly baseUrl: string;
  readonly port: number;
  readonly dataDir: string;
  /** The current options (after configure()). */
  readonly options: ResolvedOptions;
  /** The same JSON as GET /_emulator/state. */
  state(): EmulatorState & { anthropic: AnthropicState };
  /** Merge options at run time (faults, queueLimits, latencies, timeScale, ...); port/host/dataDir are fixed. */
  configure(patch: EmulatorOptions): void;
  /** Forget every batch and file, call counts and counters. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

const FIXED = new Set(["port", "host", "dataDir"]);

/** Start the emulator on loopback: OpenAI's Files + Batches API and Anthropic's Message Batches API. */
export async function createEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  let resolved = resolveOptions(checkEmulatorOptions(options, "emulator options"));
  const ownDir = resolved.dataDir === undefined;
  const dataDir = resolved.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "batchpipe-emulator-"));
  fs.mkdirSync(dataDir, { recursive: true });
  const clock = createClock(resolved.timeScale);
  // without a seed, ids differ from one start to the next (as a provider's do): a run resumed in a
  // new process must not find its old batch ids naming the new emulator's batches
  const ids = createIds(createRandom(options.seed ?? randomInt(2 ** 32)));
  const ctx: EmulatorContext = {
    get options() {
      return resolved;
    },
    set options(next) {
      resolved = next;
    },
    clock,
    store: new FileStore(dataDir, clock, ids),
    ids,
    counters: {},
  };
  const engine = new BatchEngine(ctx);
  const anthropic = new AnthropicBatches(ctx);
  const calls = new Map<string, number>();

  const configure = (patch: EmulatorOptions) => {
    const filtered = Object.fromEntries(
      Object.entries(checkEmulatorOptions(patch, "emulator options")).filter(([k]) => !FIXED.has(k)),
    ) as EmulatorOptions;
    const next = mergeOptions(resolved, filtered);
    if (next.timeScale !== resolved.timeScale) clock.setScale(next.timeScale);
    resolved = next;
  };
  const reset = async () => {
    await engine.reset();
    await anthropic.reset();
    ctx.store.clear();
    calls.clear();
    for (const key of Object.keys(ctx.counters)) delete ctx.counters[key];
  };
  const state = () => ({ ...snapshotState(ctx, engine, calls), anthropic: anthropic.snapshot() });

  const internal = async (
    method: string,
    route: string,
    req: http.IncomingMessage,
  ): Promise<Reply | undefined> => {
    if (method === "GET" && route === "/_emulator/state") return { json: state() };
    if (method === "POST" && route === "/_emulator/reset") {
      await reset();
      return { json: { ok: true } };
    }
    if (method === "POST" && route === "/_emulator/config") {
      const patch = await readJson(req);
      if (!patch || typeof patch !== "object" || Array.isArray(patch))
        throw invalidRequest("Expected a JSON object.");
      try {
        configure(patch as EmulatorOptions);
      } catch (error) {
        throw invalidRequest((error as Error).message);
      }
      const { apiKey: _key, ...visible } = resolved;
      return { json: { ok: true, options: visible } };
    }
    return undefined;
  };

  // a delayed answer (a `delay` fault) ends with the emulator: its timer would hold the process up
  const closing = new AbortController();
  const server = http.createServer(
    createHandler({
      ctx,
      engine,
      calls,
      internal,
      dialects: [anthropicDialect(anthropic)],
      closing: closing.signal,
    }),
  );
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(resolved.port, resolved.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = resolved.host.includes(":") ? `[${resolved.host}]` : resolved.host;
  const baseUrl = `http://${host}:${port}`;
  let closed: Promise<void> | undefined;

  return {
    url: `${baseUrl}/v1`,
    baseUrl,
    port,
    dataDir,
    get options() {
      return resolved;
    },
    state,
    configure,
    reset,
    close() {
      closed ??= (async () => {
        closing.abort();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await engine.reset();
        await anthropic.reset();
        if (ownDir) fs.rmSync(dataDir, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}
