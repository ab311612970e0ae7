import { constants, createReadStream, close as fsClose, open as fsOpen, statSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { Socket } from "node:net";
import { isAbsolute, join } from "node:path";
import { addAbortSignal, PassThrough, type Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { glob, globSync, isDynamicPattern } from "tinyglobby";
import { BatchpipeError } from "./errors.js";
import type { Checkpoint } from "./plugin.js";
import { type FilesBefore, resumePoint } from "./source-items.js";
import { globRoot, staysInside } from "./watch/links.js";

export interface ResolveInputFilesOptions<C extends { file: string }> {
  /** the endings a data file in a folder has, e.g. `[".jsonl", ".jsonl.gz"]` */
  extensions: readonly string[];
  /** the plugin named in errors, e.g. `source:jsonl` */
  plugin: string;
  /** the source's checkpoint: a cursor `{ file, ...integer fields }`, or undefined to start at the beginning */
  checkpoint: Checkpoint | undefined;
  /** the cursor's integer fields besides `file` */
  cursorFields: readonly (keyof C & string)[];
  /**
   * accept a named pipe that `path` names, and `-` (standard input); the caller reads them once, as
   * a stream (isStreamInput says which). Without it a pipe is refused: most formats need a file.
   */
  streams?: boolean;
}

/** a source's `path: -`: standard input */
export const STDIN_PATH = "-";

/** a gzipped input by its name: `.gz` in any case (`EXPORT.CSV.GZ` from a Windows share) */
export function isGzipFile(file: string): boolean {
  return /\.gz$/i.test(file);
}

/**
 * Whether a resolved input path is read once, as a stream: standard input (`-`) or a named pipe.
 * It looks without opening: opening a pipe for reading waits until a writer appears.
 */
export function isStreamInput(path: string): boolean {
  if (path === STDIN_PATH) return true;
  return statSync(path, { throwIfNoEntry: false })?.isFIFO() ?? false;
}

/** whether a source's `path` is a glob (matched when the run reads) rather than a file or folder */
export function isGlobPath(path: string): boolean {
  return isDynamicPattern(path);
}

/**
 * A file source's `check`: the file, folder or named pipe its `path` names must exist before the run
 * starts, and a glob must match a file (watch mode lets it match none: it waits for files). With `streams` (a source that reads pipes), `-`
 * (standard input) is declared as the path `-`.
 */
export function checkInputPath(
  ctx: { options: { path: string }; resolvePath(path: string): string },
  options: { streams?: boolean } = {},
): {
  reads?: { path: string; option: string; glob?: boolean }[];
} {
  if (options.streams && ctx.options.path === STDIN_PATH)
    return { reads: [{ path: STDIN_PATH, option: "path" }] };
  return {
    reads: [
      isGlobPath(ctx.options.path)
        ? { path: ctx.resolvePath(ctx.options.path), option: "path", glob: true }
        : { path: ctx.resolvePath(ctx.options.path), option: "path" },
    ],
  };
}

/** a glob matches at least one file that listFiles would read (one inside the glob's fixed start) */
export function globMatchesAFile(path: string): boolean {
  const root = globRoot(path);
  return globSync(path, { absolute: true, onlyFiles: true, expandDirectories: false }).some((file) =>
    staysInside(file, root),
  );
}

/**
 * The files a source's `path` option names, sorted, and where reading resumes: `first`, the index
 * of the checkpoint's file, and the checked `cursor` (`first` 0 and no cursor without a checkpoint).
 * A file is itself, and so are a named pipe and `-` (standard input, passed unresolved) with
 * `streams`; a folder → every file directly in it with one of `extensions`; anything else
 * with glob characters → the files the glob matches. No file at all is an error: an empty input is
 * almost always a wrong path.
 * Symbolic links (the policy watch mode follows too): a file `path` names is read even if it is a
 * link; a file found in a folder or by a glob only if its real path stays inside that folder (the
 * glob's fixed start), so a link to a file elsewhere is skipped. To read such a file, name it, or
 * its real folder, in `path`. Only a pipe `path` names itself is read: a folder's or a glob's are
 * skipped (opening one would wait for a writer).
 */
export async function resolveInputFiles<C extends { file: string }>(
  path: string,
  options: ResolveInputFilesOptions<C>,
): Promise<{ files: string[]; first: number; cursor: C | undefined; before(index: number): FilesBefore }> {
  const files = await listFiles(path, options);
  const sizes = await Promise.all(files.map(fileSize));
  const fields = options.cursorFields;
  const resume = resumePoint<C>(files, options.checkpoint, { fields, plugin: options.plugin, sizes });
  // the files listed before each file, with their sizes now: its cursors' `before`
  const before = (index: number): FilesBefore =>
    files.slice(0, index).map((file, i): [string, number] => [file, sizes[i]!]);
  return { files, ...resume, before };
}

/**
 * A data file's bytes in 256 KB chunks, gunzipped when its name ends in `.gz`. `start` skips to a
 * byte offset of a plain file (a gzip stream cannot seek: it always starts at 0; nor can a pipe).
 * `stream` is read instead of opening `file`: standard input for `-` (the caller passes it, so this
 * module never touches process globals).
 */
export function openInputFile(
  file: string,
  options: { start?: number; signal?: AbortSignal; stream?: Readable } = {},
): Readable {
  const gzip = isGzipFile(file);
  let raw: Readable;
  if (options.stream) raw = options.signal ? addAbortSignal(options.signal, options.stream) : options.stream;
  else if (isStreamInput(file)) raw = openPipe(file, options.signal);
  else
    raw = createReadStream(file, {
      start: gzip ? 0 : (options.start ?? 0),
      highWaterMark: CHUNK_SIZE,
      signal: options.signal,
    });
  if (!gzip) return raw;
  const gunzip = createGunzip({ chunkSize: CHUNK_SIZE });
  raw.on("error", (error) => gunzip.destroy(error));
  gunzip.on("close", () => raw.destroy());
  return raw.pipe(gunzip);
}

/**
 * The error a `.gz` input's stream fails with when its data is damaged or cut short (zlib's
 * `Z_DATA_ERROR`, `Z_BUF_ERROR`, …) as SOURCE_FAILED naming the file and the last line read
 * (`line`, 0 when none); any other error as it is.
 */
export function gzipFailure(error: unknown, o: { file: string; line: number; plugin: string }): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !code.startsWith("Z_")) return error;
  const why = (error as Error).message;
  const message =
    o.line === 0
      ? `${o.file} is not valid gzip data (${why}): nothing in it could be read`
      : `${o.file}: its gzip data is damaged or cut short after line ${o.line} (${why})`;
  return new BatchpipeError("SOURCE_FAILED", message, {
    loc: { file: o.file, line: o.line + 1, column: 1 },
    hint: `Check the file (\`gzip -t ${o.file}\`): it may be incomplete (still being copied or written) or damaged. Replace it with a complete copy (or, if it is not compressed, drop .gz from its name) and run again.`,
    plugin: o.plugin,
    cause: error,
  });
}

// --- internal ---

/**
 * A named pipe's bytes. Opening it waits (on libuv's thread pool) until a writer appears; the reads
 * then go through a pipe handle, which destroy() stops at once, where a file stream's pending read
 * would hold the process until the writer writes. Destroying the stream (or aborting) while the open
 * still waits ends the wait by being a writer for a moment: a non-blocking open for writing does
 * not wait, and closing it at once reads as the end of the input.
 */
function openPipe(file: string, signal: AbortSignal | undefined): Readable {
  const out = new PassThrough();
  let socket: Socket | undefined;
  fsOpen(file, constants.O_RDONLY, (error, fd) => {
    if (error) return out.destroy(error);
    if (out.destroyed) return fsClose(fd, ignore);
    socket = new Socket({ fd, readable: true, writable: false });
    socket.on("error", (e) => out.destroy(e));
    socket.pipe(out);
  });
  out.once("close", () => {
    if (socket) return socket.destroy();
    fsOpen(file, constants.O_WRONLY | constants.O_NONBLOCK, (error, fd) => {
      if (!error) fsClose(fd, ignore);
    });
  });
  return signal ? addAbortSignal(signal, out) : out;
}

function ignore(): void {}

// the records parsed from one chunk are alive together: 256 KB keeps that small without slowing reads
const CHUNK_SIZE = 1 << 18;

async function listFiles(
  path: string,
  options: { extensions: readonly string[]; plugin: string; streams?: boolean },
) {
  const fail = (message: string, hint: string) =>
    new BatchpipeError("SOURCE_FAILED", message, { hint, plugin: options.plugin });
  if (options.streams && path === STDIN_PATH) return [path];
  const stats = await stat(path).catch(() => undefined);
  if (stats?.isFile()) return [path];
  if (stats?.isFIFO()) {
    if (options.streams) return [path];
    throw fail(
      `${path} is a named pipe: ${options.plugin} reads files only`,
      "Write the data to a file first.",
    );
  }
  if (stats?.isDirectory()) {
    const entries = await readdir(path, { withFileTypes: true });
    const files: string[] = [];
    for (const entry of entries) {
      // in any case: B.CSV beside a.csv was skipped without a word
      const name = entry.name.toLowerCase();
      if (!options.extensions.some((ext) => name.endsWith(ext))) continue;
      const file = join(path, entry.name);
      if (entry.isFile() || (entry.isSymbolicLink() && (await isFile(file)) && staysInside(file, path)))
        files.push(file);
    }
    files.sort(byCodeUnit);
    if (files.length === 0) {
      const kinds = options.extensions.map((ext) => `*${ext}`).join(" or ");
      throw fail(`no ${kinds} files in the folder ${path}`, "Check `path`.");
    }
    return files;
  }
  if (isDynamicPattern(path)) {
    const root = globRoot(path);
    const matched = await glob(path, { absolute: true, onlyFiles: true, expandDirectories: false });
    const files = matched.filter((file) => staysInside(file, root));
    if (files.length === 0) throw fail(`no file matches the glob ${path}`, "Check `path`.");
    return files.sort(byCodeUnit);
  }
  throw fail(`no such file or folder: ${path}`, missingPathHint(path));
}

/**
 * Where a missing `path` was looked for: a source resolves its option from the pipeline's folder
 * (ctx.resolvePath) and passes the result, absolute; a relative path here was not resolved, so the
 * file system looked for it from the current folder.
 */
function missingPathHint(path: string): string {
  if (isAbsolute(path))
    return "Check the source's `path`: a relative `path` is resolved from the spec file's folder (for a pipeline given in code, from its `dir`, default the current folder), which gave the path above.";
  return `The path was looked for from the current folder (${process.cwd()}), not from the spec file's folder: the source must resolve its \`path\` with ctx.resolvePath() before passing it to resolveInputFiles.`;
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** a listed file's size (-1 for standard input and pipes, which are read once) */
async function fileSize(file: string): Promise<number> {
  if (file === STDIN_PATH) return -1;
  const stats = await stat(file).catch(() => undefined);
  return stats?.isFile() ? stats.size : -1;
}

async function isFile(file: string): Promise<boolean> {
  return (await stat(file).catch(() => undefined))?.isFile() ?? false;
}
