/**
 * The sqlite sink's worker thread: owns every SQLite connection of the process and answers the
 * sink handles' requests (protocol.ts) in order, so a write never overtakes the commit after it.
 */
import { parentPort } from "node:worker_threads";
import { BatchpipeError } from "@batchpipe/core/plugin";
import type { Reply, Request } from "./protocol.js";
import { openSqliteTable, type TableHandle } from "./table.js";

if (!parentPort) throw new Error("the sqlite sink's worker must run in a worker thread");
const port = parentPort;

const handles = new Map<number, TableHandle>();
let nextHandle = 1;

// every call is synchronous, so requests are answered one at a time, in the order they came
port.on("message", (request: Request) => {
  let reply: Reply;
  try {
    reply = { id: request.id, ok: true, value: handle(request) };
  } catch (error) {
    reply = { id: request.id, ok: false, error: toWire(error) };
  }
  port.postMessage(reply);
});

function handle(request: Request): unknown {
  switch (request.op) {
    case "open": {
      const table = openSqliteTable(request.path, request.table, request.checkpoint);
      const id = nextHandle++;
      handles.set(id, table);
      return id;
    }
    case "write":
      get(request.handle).write(request.values, request.now);
      return undefined;
    case "commit":
      return get(request.handle).commit(request.key);
    case "committed":
      return get(request.handle).committed(request.key);
    case "close": {
      const table = handles.get(request.handle);
      handles.delete(request.handle);
      table?.close();
      return undefined;
    }
  }
}

function get(id: number): TableHandle {
  const table = handles.get(id);
  if (!table)
    throw new BatchpipeError("PLUGIN_FAILED", "the sqlite sink was already closed", {
      plugin: "sink:sqlite",
    });
  return table;
}

function toWire(error: unknown): Extract<Reply, { ok: false }>["error"] {
  if (error instanceof BatchpipeError) {
    return { code: error.code, message: error.message, hint: error.hint, plugin: error.plugin };
  }
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown })?.code;
  return { message, sqliteCode: typeof code === "string" ? code : undefined };
}
