/**
 * The plugins of one watch group: a source reading the group's file snapshots through the
 * pipeline's own source (its `path` option set to each snapshot, positions mapped back to the
 * original file), and sinks that carry their checkpoint over from the previous run.
 *
 * Why the carry-over: the engine keys sink checkpoints by run, so a sink opened in a new run is
 * "fresh" (the jsonl sink then truncates its file). In watch mode every group is a new run writing
 * to the same sinks, so a fresh sink is opened at the checkpoint the previous run recorded last:
 * nothing committed before is dropped, nothing uncommitted is kept.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { EngineResolvedPlugin } from "../engine/types.js";
import type { Checkpoint, ResultRow, SinkPlugin, SourcePlugin } from "../plugin.js";
import type { WatchedFile } from "./registry.js";

export function createGroupSource(
  source: EngineResolvedPlugin<SourcePlugin>,
  files: WatchedFile[],
  on: {
    fileRead?: (file: string, records: number) => void;
    /**
     * the inner source threw reading `files[index]` (a bad line with `on_invalid: fail`, an
     * unreadable file) after `records` of its records: the file ends there and the read goes on
     * with the next one (the records before the failure are kept: they may already be paid)
     */
    fileFailed?: (index: number, records: number, error: unknown) => void;
  } = {},
): EngineResolvedPlugin<SourcePlugin> {
  const inner = source.plugin;
  const stamp = inner.stampCursor;
  const plugin: SourcePlugin = {
    ...inner,
    // the inner source stamps its own cursor, inside the group's
    stampCursor:
      stamp &&
      (async (cursor) => {
        // the group's own fields (the file's index, the records counted) stay as they are
        const group = cursor as { file: number; cursor: Checkpoint; records?: number };
        return { ...group, cursor: await stamp(group.cursor) };
      }),
    async *read(ctx) {
      // the group's cursor is { file: index in the group, cursor: the inner source's cursor }, so an
      // interrupted read resumes inside the file it stopped in
      const from = groupCursor(ctx.checkpoint, files.length);
      for (let index = from?.file ?? 0; index < files.length; index++) {
        const file = files[index]!;
        // messages name the user's file, not the snapshot (`inbox/bad.jsonl:2: invalid JSON`), the
        // source's warnings too (a csv that is not UTF-8)
        const named = (message: string) => message.replaceAll(file.snapshot, file.path);
        const { logger } = ctx;
        const items = inner.read({
          ...ctx,
          options: { ...(ctx.options as Record<string, unknown>), path: file.snapshot },
          checkpoint: index === from?.file ? from.cursor : undefined,
          logger: {
            debug: (message, data) => logger.debug(named(message), data),
            info: (message, data) => logger.info(named(message), data),
            warn: (message, data) => logger.warn(named(message), data),
            error: (message, data) => logger.error(named(message), data),
          },
        });
        // counted from the file's start: the cursor carries the count, a resumed read goes on from it
        let records = index === from?.file ? from.records : 0;
        try {
          for await (const item of items) {
            if (item.position.file === file.snapshot) item.position = { ...item.position, file: file.path };
            if ("invalid" in item) item.invalid = { ...item.invalid, message: named(item.invalid.message) };
            records++;
            item.cursor = { file: index, cursor: item.cursor, records };
            yield item;
          }
        } catch (error) {
          // the read was stopped (the run ends), not failed by the file
          if (ctx.signal.aborted) throw error;
          // on_invalid: fail, an unreadable gzip: the error names the file too
          if (error instanceof Error && error.message.includes(file.snapshot))
            error.message = named(error.message);
          on.fileFailed?.(index, records, error);
          continue;
        }
        on.fileRead?.(file.path, records);
      }
    },
  };
  return { ...source, plugin };
}

/** a checkpoint this group source made, or undefined (start from the first file) */
function groupCursor(
  checkpoint: Checkpoint | undefined,
  count: number,
): { file: number; cursor: Checkpoint; records: number } | undefined {
  if (typeof checkpoint !== "object" || checkpoint === null || Array.isArray(checkpoint)) return undefined;
  const { file, cursor, records } = checkpoint as { file?: unknown; cursor?: Checkpoint; records?: unknown };
  if (typeof file !== "number" || !Number.isInteger(file) || file < 0 || file >= count) return undefined;
  // a cursor written before the count was carried: the records of this session only
  return { file, cursor: cursor as Checkpoint, records: typeof records === "number" ? records : 0 };
}

/**
 * Wrap a sink: open it at the previous run's checkpoint when the engine has none for this run;
 * `onCommitted` gets the rows of each commit, with its key, once the sink has them.
 */
export function createCarrySink(
  ref: EngineResolvedPlugin<SinkPlugin>,
  options: {
    role: "sinks" | "errors";
    index: number;
    stateDir: string;
    onCommitted?: (rows: ResultRow[], key: string) => void;
  },
): EngineResolvedPlugin<SinkPlugin> {
  const inner = ref.plugin;
  const suffix = `|${options.role}[${options.index}]:${ref.use}`;
  const plugin: SinkPlugin = {
    ...inner,
    async open(ctx) {
      const checkpoint =
        ctx.checkpoint !== undefined ? ctx.checkpoint : lastCheckpoint(options.stateDir, suffix);
      const handle = await inner.open({ ...ctx, checkpoint });
      const { onCommitted } = options;
      if (!onCommitted) return handle;
      let pending: ResultRow[] = [];
      return {
        ...handle,
        committed: handle.committed?.bind(handle),
        async write(rows) {
          pending.push(...rows);
          await handle.write(rows);
        },
        async commit(key) {
          const result = await handle.commit(key);
          onCommitted(pending, key);
          pending = [];
          return result;
        },
        async close() {
          pending = [];
          await handle.close();
        },
      };
    },
  };
  return { ...ref, plugin };
}

/** the checkpoint the latest earlier run recorded for the sink whose key ends with `suffix` */
function lastCheckpoint(stateDir: string, suffix: string): Checkpoint | undefined {
  const file = path.join(stateDir, "state.db");
  if (!fs.existsSync(file)) return undefined;
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma("busy_timeout = 5000");
    const row = db
      .prepare(
        `SELECT s.checkpoint FROM sink_checkpoints s JOIN runs r ON s.sink = r.id || ?
         ORDER BY r.seq DESC LIMIT 1`,
      )
      .get(suffix) as { checkpoint: string } | undefined;
    return row ? (JSON.parse(row.checkpoint) as Checkpoint) : undefined;
  } finally {
    db.close();
  }
}
