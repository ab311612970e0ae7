/**
 * The `sqlite` sink: one row per id in a table (upsert), made durable by `commit(key)`.
 *
 * Exactly-once: rows are upserted as they arrive, inside a transaction that opens at the first
 * write and ends at `commit(key)`, which records `key` in `_batchpipe_commits` in that same
 * transaction; the checkpoint is that record's `seq`. A row that becomes durable before its commit
 * record (see the shared connection in table.ts) is harmless: until the record exists the engine
 * delivers that key again, and the upsert by id overwrites the row. `open` with a checkpoint forgets
 * the commit records of this table after it (so `committed(key)` is false for them and the engine
 * redelivers); their rows stay, and a redelivery overwrites them by id: never a duplicate. A fresh
 * sink (no checkpoint) forgets every commit record of its table and keeps the rows, which later
 * deliveries upsert.
 *
 * SQLite runs in one worker thread per process (worker.ts), which holds the connections: `write`
 * turns the rows into column values on the caller's thread and returns while the worker inserts
 * them, so SQLite's work (its inserts, and the fsyncs of each commit) overlaps the engine's instead
 * of blocking its event loop. The README gives the figure.
 */
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { Worker } from "node:worker_threads";
import { BatchpipeError, type Checkpoint, defineSink, type ResultRow, z } from "@batchpipe/core/plugin";
import type { Reply, Request } from "./protocol.js";
import { toValues } from "./table.js";

export const options = z.strictObject({
  path: z
    .string()
    .min(1)
    .meta({
      description: "The SQLite database file, relative to the spec file; created with its parent folders.",
      examples: ["./out/results.db"],
    }),
  table: z
    .string()
    .regex(
      /^[A-Za-z_][A-Za-z0-9_]*$/,
      "must be a plain SQL identifier (letters, digits, _; not starting with a digit)",
    )
    .default("results")
    .meta({ description: "The table the rows go to; created if missing." }),
});

export type SqliteSinkOptions = z.output<typeof options>;

export default defineSink({
  name: "sqlite",
  options,
  async open({ options, resolvePath, checkpoint }) {
    const path = resolvePath(options.path);
    await mkdir(dirname(path), { recursive: true });
    const worker = acquireWorker();
    try {
      const handle = (await worker.call({ op: "open", path, table: options.table, checkpoint })) as number;
      return createHandle(worker, handle);
    } catch (error) {
      worker.release();
      throw error;
    }
  },
});

// --- internal ---

/**
 * Writes not yet acknowledged by the worker. `write` returns while the worker inserts (the engine
 * builds the next rows meanwhile); past this many it waits, so memory stays bounded.
 */
const MAX_WRITES_IN_FLIGHT = 2;

/** a sink's calls, sent to the worker thread in order */
function createHandle(worker: SinkWorker, handle: number) {
  const inFlight: Promise<unknown>[] = [];
  let closed = false;
  /** wait for every write sent; the first that failed throws */
  const drain = async () => {
    while (inFlight.length > 0) await inFlight.shift();
  };
  return {
    async write(rows: readonly ResultRow[]): Promise<void> {
      // serialised here: the caller may reuse its objects, and only strings and numbers cross threads
      const sent = worker.call({
        op: "write",
        handle,
        values: toValues(rows),
        now: new Date().toISOString(),
      });
      // a failure surfaces at the next call that waits for it (a later write or the commit)
      sent.catch(() => {});
      inFlight.push(sent);
      while (inFlight.length > MAX_WRITES_IN_FLIGHT) await inFlight.shift();
    },
    async commit(key: string): Promise<Checkpoint> {
      await drain();
      return (await worker.call({ op: "commit", handle, key })) as number;
    },
    async committed(key: string): Promise<boolean> {
      return (await worker.call({ op: "committed", handle, key })) as boolean;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      // uncommitted rows are dropped on purpose (the worker's close rolls back what no sink committed)
      await Promise.allSettled(inFlight.splice(0));
      try {
        await worker.call({ op: "close", handle });
      } finally {
        worker.release();
      }
    },
  };
}

interface SinkWorker {
  call(request: DistributiveOmit<Request, "id">): Promise<unknown>;
  release(): void;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** One worker thread per process serves every sqlite sink (it holds the shared connections). */
let shared: { worker: Worker; users: number; client: SinkWorker } | undefined;

function acquireWorker(): SinkWorker {
  if (!shared) shared = startWorker();
  shared.users++;
  return shared.client;
}

function startWorker(): NonNullable<typeof shared> {
  // dist/worker.js from both src/ (tests) and dist/: the worker must be plain JavaScript
  const worker = new Worker(new URL("../dist/worker.js", import.meta.url), {
    // a write message is one delivery part's column values: a 4 MB young generation holds it, and
    // V8's default (16 MB semi-spaces) would make the thread's heap about twice as big
    resourceLimits: { maxYoungGenerationSizeMb: 4 },
  });
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: unknown): void }>();
  let nextId = 1;
  let failure: Error | undefined;
  // the thread keeps the process alive only while a call waits for it
  worker.unref();
  const settleAll = (error: Error) => {
    failure = error;
    for (const call of pending.values()) call.reject(error);
    pending.clear();
  };
  worker.on("message", (reply: Reply) => {
    const call = pending.get(reply.id);
    if (!call) return;
    pending.delete(reply.id);
    if (pending.size === 0) worker.unref();
    if (reply.ok) call.resolve(reply.value);
    else call.reject(fromWire(reply.error));
  });
  worker.on("error", (error) =>
    settleAll(
      new BatchpipeError("PLUGIN_FAILED", `the sqlite sink's worker thread failed: ${error.message}`, {
        plugin: "sink:sqlite",
        cause: error,
      }),
    ),
  );
  worker.on("exit", (code) => {
    if (shared?.worker === worker) shared = undefined;
    settleAll(
      new BatchpipeError("PLUGIN_FAILED", `the sqlite sink's worker thread exited (code ${code})`, {
        plugin: "sink:sqlite",
      }),
    );
  });
  const state: NonNullable<typeof shared> = {
    worker,
    users: 0,
    client: {
      call(request) {
        if (failure) return Promise.reject(failure);
        const id = nextId++;
        if (pending.size === 0) worker.ref();
        return new Promise((resolve, reject) => {
          pending.set(id, { resolve, reject });
          worker.postMessage({ ...request, id });
        });
      },
      release() {
        if (--state.users > 0) return;
        if (shared === state) shared = undefined;
        void worker.terminate();
      },
    },
  };
  return state;
}

function fromWire(error: Extract<Reply, { ok: false }>["error"]): Error {
  if (error.code !== undefined) {
    return new BatchpipeError(error.code, error.message, { hint: error.hint, plugin: error.plugin });
  }
  // SQLite's own errors keep their code (SQLITE_FULL, SQLITE_READONLY…): the CLI names them
  return Object.assign(new Error(error.message), { code: error.sqliteCode });
}
