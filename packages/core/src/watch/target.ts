/**
 * What a watcher watches: the folder, file or glob of the source's `path` option, as a root folder
 * plus a matcher for files under it. chokidar 5 has no globs, so globs are compiled here to a
 * RegExp (`*`, `**`, `?`, `[…]`, `{a,b}`); a folder means every file directly in it with one of the
 * source's extensions (`*.csv`, `*.csv.gz`), in any case, as the source reads a folder.
 */
import fs from "node:fs";
import path from "node:path";
import { BatchpipeError, ErrorCodes } from "../errors.js";
import { globRoot, staysInside } from "./links.js";

export interface WatchTarget {
  /** the folder chokidar watches */
  root: string;
  /** how deep under root files may be (undefined: any depth) */
  depth: number | undefined;
  /** whether an absolute file path is an input */
  matches(file: string): boolean;
  /** for messages */
  describe: string;
  /**
   * The symlink policy (links.ts): whether a file found under root counts. The one file the
   * source names is taken as is; a file found by listing only if its real path stays in root.
   */
  allows(file: string): boolean;
}

/** a folder's data files when the source does not say (SourcePlugin.extensions) */
const DEFAULT_EXTENSIONS = [".jsonl", ".jsonl.gz"];
const GLOB_CHARS = /[*?[\]{}]/;

/**
 * `folder`: the path names a folder (it ends with a `/`), even one that does not exist yet;
 * `extensions`: the endings (lower case) of a folder's data files, the source's
 */
export function resolveWatchTarget(
  pattern: string,
  o: { folder?: boolean; extensions?: readonly string[] } = {},
): WatchTarget {
  const absolute = path.resolve(pattern);
  if (!GLOB_CHARS.test(absolute)) {
    const stats = fs.statSync(absolute, { throwIfNoEntry: false });
    if (stats?.isDirectory() || (o.folder && !stats)) {
      const extensions = o.extensions?.length ? o.extensions : DEFAULT_EXTENSIONS;
      const dataFile = (file: string) => {
        const name = file.toLowerCase();
        return extensions.some((ext) => name.endsWith(ext));
      };
      return {
        root: absolute,
        depth: 0,
        matches: (file) => path.dirname(file) === absolute && dataFile(file),
        describe: `${absolute}${path.sep}*${extensions[0]}`,
        allows: (file) => staysInside(file, absolute),
      };
    }
    // one file (which may not exist yet)
    return {
      root: path.dirname(absolute),
      depth: 0,
      matches: (file) => file === absolute,
      describe: absolute,
      allows: () => true,
    };
  }
  const root = globRoot(absolute);
  const rest = path.relative(root, absolute).split(path.sep);
  const regex = globToRegExp(rest.join("/"));
  return {
    root,
    depth: rest.includes("**") ? undefined : rest.length - 1,
    matches: (file) => {
      const relative = path.relative(root, file);
      return !relative.startsWith("..") && regex.test(relative.split(path.sep).join("/"));
    },
    describe: absolute,
    allows: (file) => staysInside(file, root),
  };
}

/**
 * A glob over `/`-separated relative paths → an anchored RegExp. As the source's glob (tinyglobby,
 * `dot: false`), a wildcard never matches a name that starts with a dot: `*.jsonl` leaves out
 * `.x.jsonl` (and macOS's `._x.jsonl`), `**` leaves out `.git/`; `.*.jsonl` names them on purpose.
 */
export function globToRegExp(glob: string): RegExp {
  let out = "";
  let braces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    // a segment that does not start with a literal dot matches no dot name
    if ((i === 0 || glob[i - 1] === "/") && c !== ".") out += "(?!\\.)";
    if (c === "*") {
      if (glob[i + 1] === "*") {
        // `**/` matches any number of folders (zero included); a trailing `**` anything
        if (glob[i + 2] === "/") {
          out += "(?:[^/]*/(?!\\.))*";
          i += 2;
        } else {
          out += "(?:[^/]|/(?!\\.))*";
          i += 1;
        }
      } else out += "[^/]*";
    } else if (c === "?") out += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 1);
      if (end === -1) out += "\\[";
      else {
        const body = glob
          .slice(i + 1, end)
          .replace(/^!/, "^")
          .replace(/\\/g, "\\\\");
        out += `[${body}]`;
        i = end;
      }
    } else if (c === "{") {
      braces++;
      out += "(?:";
    } else if (c === "}" && braces > 0) {
      braces--;
      out += ")";
    } else if (c === "," && braces > 0) out += "|";
    else out += c.replace(/[.+^$()|\\]/g, "\\$&");
  }
  if (braces > 0) {
    throw new BatchpipeError(ErrorCodes.SPEC_INVALID, `the glob ${glob} has an unclosed {`, {
      hint: "Close every { in the source's path.",
    });
  }
  return new RegExp(`^${out}$`);
}
