/**
 * The one symbolic-link policy of sources and watch mode: a file found by listing a source's folder
 * (or the fixed folder a glob starts from) counts only if its real path is inside that folder's
 * real path. A link to a file elsewhere is not followed, so a link dropped into an inbox cannot make
 * batchpipe read (and send) a file outside it. A path the spec names itself is followed: to read a
 * file elsewhere, name it (or its real folder) in `path`.
 */
import fs from "node:fs";
import path from "node:path";

export function staysInside(file: string, folder: string): boolean {
  try {
    const real = fs.realpathSync(file);
    const base = fs.realpathSync(folder);
    return real === base || real.startsWith(base.endsWith(path.sep) ? base : `${base}${path.sep}`);
  } catch {
    // a dangling link
    return false;
  }
}

/** the folder a glob starts from: its segments before the first one with a glob character */
export function globRoot(pattern: string): string {
  const segments = pattern.split(path.sep);
  const first = segments.findIndex((s) => /[*?[\]{}]/.test(s));
  return segments.slice(0, first === -1 ? segments.length : first).join(path.sep) || path.sep;
}
