/**
 * The `jsonl` sink: appends each row as one JSON line.
 *
 * Exactly-once: `commit` flushes and fsyncs, and its checkpoint is the file's byte size after the
 * commit. `open` truncates the file to its checkpoint, dropping whatever a crashed run wrote after
 * its last commit. Without a checkpoint the sink is fresh (the engine has never committed to it in
 * this run), so an existing file is truncated to empty: keeping its lines would duplicate or mix
 * results from another run; `append: true` keeps it and adds this run's lines after it (the
 * checkpoint, a byte offset, then starts at the old end of the file).
 *
 * `fields` projects each row (DESIGN §1; the projection is compiled once, in `open`).
 */
import { type FileHandle, open, stat } from "node:fs/promises";
import {
  BatchpipeError,
  type Checkpoint,
  compileFields,
  defineSink,
  fieldsOption,
  makeOutputFolder,
  type ResultRow,
  type RowProjector,
  z,
} from "@batchpipe/core/plugin";

export const options = z.strictObject({
  path: z
    .string()
    .min(1)
    // the sources read standard input from "-": here it was a file named "-" beside the spec
    .refine((path) => path !== "-", {
      message:
        'a sink writes a file: "-" would be a file named "-", not standard output; give a file, e.g. ./out/results.jsonl',
    })
    .meta({
      description: "The output file, relative to the spec file; parent folders are created.",
      examples: ["./out/results.jsonl"],
    }),
  fields: fieldsOption.optional(),
  append: z.boolean().default(false).meta({
    description:
      "Keep the lines earlier runs wrote and add this run's after them. Default: a fresh file per run. A run that resumes after a crash still drops what it wrote after its last commit.",
  }),
});

export type JsonlSinkOptions = z.output<typeof options>;

export default defineSink({
  name: "jsonl",
  options,
  check: ({ options, resolvePath }) => ({ writes: [{ path: resolvePath(options.path), option: "path" }] }),
  async open({ options, resolvePath, checkpoint, logger }) {
    const path = resolvePath(options.path);
    makeOutputFolder(path, { plugin: "sink:jsonl", option: "path" });
    await refuseNonFile(path);
    // "a" would ignore positions on Linux; "r+" needs the file to exist, so create it first
    await (await open(path, "a")).close();
    const file = await open(path, "r+");
    const size = (await file.stat()).size;
    // a fresh sink starts at the end of the file when appending (a partial last line, from a run
    // that crashed before its first commit was recorded, is not ours to keep or cut: it stays)
    const start = checkpoint !== undefined ? parseCheckpoint(checkpoint, path) : options.append ? size : 0;
    if (size < start) {
      await file.close();
      throw new BatchpipeError(
        "PLUGIN_FAILED",
        `${path} has ${size} bytes but its last commit ended at byte ${start}`,
        {
          hint: "The file was truncated or replaced outside batchpipe; restore it or start a new run.",
          plugin: "sink:jsonl",
        },
      );
    }
    await file.truncate(start);
    const warn = (message: string) => logger.warn(`jsonl sink ${options.path}: fields: ${message}`);
    // appending after text that does not end its line: the first row would be glued onto it
    const lead = checkpoint === undefined && start > 0 && !(await endsLine(file, start)) ? "\n" : "";
    return createWriter(file, start, compileFields(options.fields, { warn }), lead);
  },
});

// --- internal ---

const BUFFER_BYTES = 1 << 20;
/**
 * Lines are joined into one string of about this many characters before they are encoded: one
 * buffer.write per ~20 rows, not one per row. Much longer strings would land in V8's large object
 * space, where building them costs more.
 */
const PENDING_CHARS = 1 << 14;

/**
 * A device or pipe (/dev/null, /dev/stdout, a FIFO) cannot be cut back to a commit: its open
 * failed with "EINVAL: invalid argument, ftruncate", naming neither the path nor a fix.
 */
async function refuseNonFile(path: string): Promise<void> {
  const kind = await stat(path).then(
    (s) =>
      s.isFile() ? undefined : s.isFIFO() ? "a pipe" : s.isCharacterDevice() ? "a device" : "not a file",
    () => undefined,
  );
  if (kind === undefined) return;
  throw new BatchpipeError("PLUGIN_FAILED", `${path} is ${kind}, not a regular file`, {
    hint: "The jsonl sink cuts its file back to the last commit when a run resumes, which only a regular file allows: give path a file (e.g. ./out/results.jsonl) and follow it with tail -f, or leave the sink out.",
    plugin: "sink:jsonl",
  });
}

/** whether the byte before `end` is a newline */
async function endsLine(file: FileHandle, end: number): Promise<boolean> {
  const last = Buffer.alloc(1);
  await file.read(last, 0, 1, end - 1);
  return last[0] === 0x0a;
}

function createWriter(file: FileHandle, start: number, project: RowProjector, lead: string) {
  // bytes before `position` are in the file; `buffer[0, used)` waits for the next flush;
  // `pending` holds lines not yet encoded: one buffer.write per PENDING_CHARS
  let position = start;
  let buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  let used = 0;
  let pending = lead;

  async function encode(): Promise<void> {
    // UTF-8 needs at most 3 bytes per UTF-16 code unit
    const worstCase = pending.length * 3;
    if (used + worstCase > buffer.length) {
      await flush();
      // the flushed buffer is reused; only an oversized text needs (and then gives back) a bigger one
      if (worstCase > buffer.length || buffer.length > BUFFER_BYTES) {
        buffer = Buffer.allocUnsafe(Math.max(BUFFER_BYTES, worstCase));
      }
    }
    used += buffer.write(pending, used);
    pending = "";
  }

  async function flush(): Promise<void> {
    let written = 0;
    while (written < used) {
      const { bytesWritten } = await file.write(buffer, written, used - written, position + written);
      written += bytesWritten;
    }
    position += used;
    used = 0;
  }

  return {
    async write(rows: readonly ResultRow[]): Promise<void> {
      for (const row of rows) {
        pending += `${JSON.stringify(project(row))}\n`;
        if (pending.length >= PENDING_CHARS) await encode();
      }
    },
    async commit(): Promise<Checkpoint> {
      await encode();
      await flush();
      await file.datasync();
      return position;
    },
    async close(): Promise<void> {
      // uncommitted rows are dropped on purpose: only `commit` makes rows durable
      pending = "";
      used = 0;
      await file.close();
    },
  };
}

function parseCheckpoint(checkpoint: Checkpoint, path: string): number {
  if (typeof checkpoint !== "number" || !Number.isSafeInteger(checkpoint) || checkpoint < 0) {
    throw new BatchpipeError(
      "PLUGIN_FAILED",
      `invalid checkpoint ${JSON.stringify(checkpoint)} for ${path}`,
      {
        hint: "A jsonl sink checkpoint is a byte offset; the run state may be corrupt.",
        plugin: "sink:jsonl",
      },
    );
  }
  return checkpoint;
}
