/**
 * The queue of a watch: files that are ready wait here (settled, snapshotted, not seen before) and
 * run as groups, one group at a time; files that arrive within `coalesce` of each other share one.
 * A group takes every file waiting, however many: one engine run shards them into as many batches
 * as the provider's limits need, so a burst of files costs one completion window, not one per
 * slice of files (a group's cost is linear in its files: their list, a registry row each).
 */
import fs from "node:fs";
import type { BatchpipeError } from "../errors.js";
import { sleep, takeSnapshot, waitUntilStable } from "./files.js";
import type { WatchedFile } from "./registry.js";
import { runGroup } from "./run-group.js";
import type { GroupContext } from "./types.js";

export interface Queue {
  /** `settle`: wait until the file stops changing first (chokidar has not) */
  offer(file: string, options?: { settle?: boolean }): Promise<void>;
  /** run every queued file now (for --once) */
  drain(): Promise<void>;
  stop(): Promise<void>;
  onFatal(handler: (error: unknown) => void): void;
}

/** collects ready files and runs them in groups, one group at a time */
export function createQueue(ctx: GroupContext, watchDir: string): Queue {
  const pending: WatchedFile[] = [];
  // the versions in `pending` (path + sha): a file seen again is recognised without a scan of them all
  const pendingKeys = new Set<string>();
  const inFlight = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let fatal: (error: unknown) => void = () => {};
  // what stopped the groups (e.g. STATE_LOST): drain() throws it (--once has no fatal handler)
  let failure: unknown;
  let hashing = Promise.resolve();
  // files the hashing has got through (queued, skipped or failed): a group waits while it moves
  let hashed = 0;
  const coalesce = ctx.options.coalesce ?? 2000;
  const settle = ctx.options.settle ?? 1000;

  // a steady trickle of files must not postpone a group for ever
  const maxWait = coalesce * 10;
  let firstQueuedAt = 0;
  let scheduled = false;

  const flush = () => {
    timer = undefined;
    if (pending.length === 0 || scheduled) return;
    scheduled = true;
    // files that arrived by now and still wait to be hashed join this group: a burst whose
    // hashing outlasts `maxWait` is one group, not a group of what was hashed in time and another.
    // Waited for while the hashing moves: a file still being written (never settling) stops it,
    // and would have held the files queued before it for as long as it grew
    const arrived = hashing;
    running = running
      .then(async () => {
        await whileMoving(arrived, maxWait);
        scheduled = false;
        while (pending.length > 0 && !ctx.signal.aborted) {
          // files leave `pending` as their group enters the registry (both synchronous): a file
          // seen again in between is always recognised
          const group = ctx.registry.createGroup(pending.splice(0));
          pendingKeys.clear();
          await runGroup(ctx, group, false);
        }
        if (!ctx.options.once && !ctx.signal.aborted) ctx.emit({ type: "idle" });
      })
      .catch((error) => {
        failure ??= error;
        fatal(error);
      });
  };

  /** until `arrived` settles, or the hashing got through no file for `stallMs` */
  const whileMoving = async (arrived: Promise<void>, stallMs: number) => {
    let settled = false;
    const done = arrived.then(() => {
      settled = true;
    });
    for (;;) {
      const before = hashed;
      let timer: NodeJS.Timeout | undefined;
      // the timer is cleared either way: --once must not wait for it
      await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, stallMs)))]);
      clearTimeout(timer);
      if (settled || hashed === before) return;
    }
  };

  // files whose snapshot failed: attempts so far, and the timers of their next try
  const attempts = new Map<string, number>();
  const retries = new Set<NodeJS.Timeout>();

  /**
   * Copy the file to its snapshot; on failure (unreadable, disk full) report it and try again
   * later: a watcher on a timer (backoff up to a minute), --once up to ONCE_ATTEMPTS times in place.
   */
  const copy = async (file: string): Promise<Awaited<ReturnType<typeof takeSnapshot>> | undefined> => {
    for (;;) {
      try {
        const taken = await takeSnapshot(file, watchDir);
        attempts.delete(file);
        return taken;
      } catch (error) {
        // gone in the meantime: nothing to do
        if (!fs.existsSync(file) || ctx.signal.aborted) return undefined;
        const attempt = (attempts.get(file) ?? 0) + 1;
        attempts.set(file, attempt);
        const giveUp = ctx.options.once && attempt >= ONCE_ATTEMPTS;
        const retryInMs = giveUp ? null : Math.min(60_000, 1000 * 2 ** (attempt - 1));
        ctx.emit({ type: "file_error", file, error: error as BatchpipeError, retryInMs });
        if (retryInMs === null) {
          ctx.summary.filesFailed++;
          return undefined;
        }
        if (ctx.options.once) {
          await sleep(retryInMs, ctx.signal);
          continue;
        }
        const timer = setTimeout(() => {
          retries.delete(timer);
          void queue.offer(file);
        }, retryInMs);
        retries.add(timer);
        return undefined;
      }
    }
  };

  const queue: Queue = {
    offer(file, options) {
      // settle waits run side by side; hashing goes one file at a time, in arrival order
      const settled = options?.settle ? waitUntilStable(file, settle, ctx.signal) : undefined;
      hashing = hashing.then(async () => {
        await settled;
        if (ctx.signal.aborted || inFlight.has(file)) return;
        // a named pipe (or a socket) is no file that arrives: opening one waits for a writer, and
        // would hold every file after it. Skipped, never opened, as the source's folder listing does
        if (fs.statSync(file, { throwIfNoEntry: false })?.isFile() === false) return;
        inFlight.add(file);
        try {
          const taken = await copy(file);
          if (!taken) return;
          const snapshot = taken.file;
          const key = `${file}\0${snapshot.sha}`;
          const queued = pendingKeys.has(key);
          if (queued || ctx.registry.known(file, snapshot.sha)) {
            // only the fresh copy goes: the queued version's snapshot is the same name
            fs.rmSync(taken.temp, { force: true });
            const reason = queued ? "already queued" : "already processed";
            ctx.emit({ type: "file_skipped", file, sha: snapshot.sha, reason });
            return;
          }
          fs.renameSync(taken.temp, snapshot.snapshot);
          if (pending.length === 0) firstQueuedAt = Date.now();
          pending.push(snapshot);
          pendingKeys.add(key);
          ctx.emit({ type: "file_queued", file, sha: snapshot.sha, bytes: snapshot.size });
          // --once: drain() starts the one group, once every file is queued (a timer would start
          // one with the files hashed by `maxWait`, and another with the rest)
          if (ctx.options.once) return;
          if (timer) clearTimeout(timer);
          timer = setTimeout(flush, Math.max(0, Math.min(coalesce, firstQueuedAt + maxWait - Date.now())));
        } finally {
          inFlight.delete(file);
          hashed++;
        }
      });
      return hashing;
    },
    async drain() {
      await hashing;
      if (timer) clearTimeout(timer);
      flush();
      await running;
      if (failure) throw failure;
    },
    async stop() {
      if (timer) clearTimeout(timer);
      for (const retry of retries) clearTimeout(retry);
      await hashing.catch(() => undefined);
      await running.catch(() => undefined);
    },
    onFatal(handler) {
      fatal = handler;
    },
  };
  return queue;
}

/** --once: how many times a file that cannot be copied is tried before the run ends without it */
const ONCE_ATTEMPTS = 3;
