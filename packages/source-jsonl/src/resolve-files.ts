import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { BatchpipeError, globRoot, staysInside } from "@batchpipe/core/plugin";
import { glob, isDynamicPattern } from "tinyglobby";

/**
 * The files a `path` option names, sorted: a file as is; a folder → every *.jsonl and *.jsonl.gz
 * directly in it; anything else with glob characters → the files the glob matches.
 * Symbolic links (the policy watch mode follows too): a file `path` names is read even if it is a
 * link; a file found in a folder or by a glob only if its real path stays inside that folder (the
 * glob's fixed start), so a link to a file elsewhere is skipped. To read such a file, name it, or
 * its real folder, in `path`.
 * No file at all is an error: an empty input is almost always a wrong path.
 */
export async function resolveFiles(path: string): Promise<string[]> {
  const stats = await stat(path).catch(() => undefined);
  if (stats?.isFile()) return [path];
  if (stats?.isDirectory()) {
    const entries = await readdir(path, { withFileTypes: true });
    const files: string[] = [];
    for (const entry of entries) {
      if (!DATA_FILE.test(entry.name)) continue;
      const file = join(path, entry.name);
      if (entry.isFile() || (entry.isSymbolicLink() && (await isFile(file)) && staysInside(file, path)))
        files.push(file);
    }
    if (files.length === 0) {
      throw sourceFailed(`no *.jsonl or *.jsonl.gz files in the folder ${path}`, "Check `path`.");
    }
    return files.sort(byCodeUnit);
  }
  if (isDynamicPattern(path)) {
    const root = globRoot(path);
    const matched = await glob(path, { absolute: true, onlyFiles: true, expandDirectories: false });
    const files = matched.filter((file) => staysInside(file, root));
    if (files.length === 0) throw sourceFailed(`no file matches the glob ${path}`, "Check `path`.");
    return files.sort(byCodeUnit);
  }
  throw sourceFailed(`no such file or folder: ${path}`, "Check `path`; it is relative to the spec file.");
}

// --- internal ---

const DATA_FILE = /\.jsonl(\.gz)?$/;

async function isFile(file: string): Promise<boolean> {
  return (await stat(file).catch(() => undefined))?.isFile() ?? false;
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sourceFailed(message: string, hint: string): BatchpipeError {
  return new BatchpipeError("SOURCE_FAILED", message, { hint, plugin: "source:jsonl" });
}
