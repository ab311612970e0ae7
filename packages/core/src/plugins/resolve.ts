/**
 * Find the plugin a `use:` value names. Order: plugins passed in code → built-ins (core's `prompt`,
 * then the registry the host passes, e.g. the batchpipe CLI's official plugins) → a path
 * (`./plugins/x.ts`, loaded with jiti: TypeScript without a build step) → `@batchpipe/<kind>-<name>`
 * → `batchpipe-<kind>-<name>`. Packages resolve from the spec's folder: core depends on no plugin.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createJiti, type Jiti } from "jiti";
import { BatchpipeError, ErrorCodes } from "../errors.js";
import type {
  Plugin,
  PluginKind,
  ProviderPlugin,
  SinkPlugin,
  SourcePlugin,
  TransformPlugin,
} from "../plugin.js";
import { closest } from "../spec/issues.js";
import prompt from "../transform/prompt.js";
import { PLUGIN_API } from "./contract.js";
import { describeExport, isPluginOfKind, pluginShapeProblem } from "./shape.js";

export type PluginOfKind<K extends PluginKind> = K extends "source"
  ? SourcePlugin
  : K extends "transform"
    ? TransformPlugin
    : K extends "sink"
      ? SinkPlugin
      : ProviderPlugin;

export interface ResolvePluginOptions {
  /** the spec's folder: paths and packages resolve from here */
  dir: string;
  /** plugins given in code, by the name used in `use` */
  plugins?: Record<string, Plugin>;
  /** built-in plugins by kind and name, e.g. the official ones the batchpipe CLI ships with */
  builtins?: PluginRegistry;
}

/** Plugins a host makes available by name, per kind: `use: jsonl` in `source` finds `source.jsonl`. */
export type PluginRegistry = { [K in PluginKind]?: Record<string, PluginOfKind<K>> };

const BUILTINS: { [K in PluginKind]: Record<string, PluginOfKind<K>> } = {
  source: {},
  transform: { prompt },
  sink: {},
  provider: {},
};

/**
 * The official plugins' names and the package (with its export) each comes in: found there when it
 * is installed beside the spec, and named in the hint when it is not. The batchpipe command line
 * includes them all (its officialPlugins registry; core does not depend on it).
 */
export const OFFICIAL_PACKAGES: Record<PluginKind, Record<string, string>> = {
  source: {
    jsonl: "@batchpipe/source-jsonl",
    csv: "@batchpipe/source-csv",
    parquet: "@batchpipe/source-parquet",
  },
  transform: { prompt: "@batchpipe/core" },
  sink: {
    jsonl: "@batchpipe/sink-jsonl",
    sqlite: "@batchpipe/sink-sqlite",
    postgres: "@batchpipe/sink-postgres",
  },
  provider: {
    openai: "@batchpipe/provider-openai",
    emulator: "@batchpipe/openai-emulator/provider",
    anthropic: "@batchpipe/provider-anthropic",
  },
};

/** the official names, for "did you mean" */
export const OFFICIAL_PLUGINS = Object.fromEntries(
  Object.entries(OFFICIAL_PACKAGES).map(([kind, packages]) => [kind, Object.keys(packages)]),
) as Record<PluginKind, string[]>;

/** Resolve and load the plugin `use` names; throws PLUGIN_NOT_FOUND or PLUGIN_INVALID (without a loc). */
export async function resolvePlugin<K extends PluginKind>(
  kind: K,
  use: string | Plugin,
  options: ResolvePluginOptions,
): Promise<PluginOfKind<K>> {
  if (typeof use !== "string") return checkPlugin(kind, use, "the plugin object");
  // npm names have at most 214 characters and paths 4096: searching for a huge name takes minutes
  if (use.length > 4096) {
    throw new BatchpipeError(
      ErrorCodes.PLUGIN_NOT_FOUND,
      `cannot find the ${kind} plugin "${use.slice(0, 40)}…": the name is ${use.length} characters long`,
      { hint: "`use` names a built-in plugin, an npm package or a path to a plugin file" },
    );
  }
  const given = options.plugins?.[use];
  if (given) return checkPlugin(kind, given, `the plugin "${use}" given in code`);
  const builtin = builtinPlugin(kind, use, options.builtins);
  if (builtin) return checkPlugin(kind, builtin, `the built-in ${kind} plugin "${use}"`);
  if (isPathLike(use)) return checkPlugin(kind, await loadFile(use, options.dir), use);
  const candidates = packageCandidates(kind, use);
  for (const name of candidates) {
    const file = resolvePackage(name, options.dir);
    if (file) return checkPlugin(kind, await loadPackage(name, file), name);
  }
  throw notFound(kind, use, candidates, options);
}

/** core's own built-in (`prompt`) or the registry's plugin of that name */
export function builtinPlugin<K extends PluginKind>(
  kind: K,
  use: string,
  builtins: PluginRegistry | undefined,
): PluginOfKind<K> | undefined {
  const own = BUILTINS[kind] as Record<string, PluginOfKind<K>>;
  if (Object.hasOwn(own, use)) return own[use];
  const given = builtins?.[kind] as Record<string, PluginOfKind<K>> | undefined;
  return given && Object.hasOwn(given, use) ? given[use] : undefined;
}

export function isPathLike(use: string): boolean {
  return use.startsWith("./") || use.startsWith("../") || path.isAbsolute(use) || /\.[cm]?[jt]s$/.test(use);
}

// --- internal ---

let jiti: Jiti | undefined;

/**
 * Plugin files importing `@batchpipe/core/...` get the running core (one zod instance, the same API),
 * even beside a spec with no node_modules; so do those importing `batchpipe/plugin` and
 * `batchpipe/testing` (the batchpipe package's re-exports of the same modules)
 */
function getJiti(): Jiti {
  const core = fileURLToPath(new URL("../../", import.meta.url));
  jiti ??= createJiti(import.meta.url, {
    alias: {
      "@batchpipe/core/plugin": path.join(core, "dist/plugin.js"),
      "@batchpipe/core/testing": path.join(core, "dist/testing/index.js"),
      "@batchpipe/core": path.join(core, "dist/index.js"),
      "batchpipe/plugin": path.join(core, "dist/plugin.js"),
      "batchpipe/testing": path.join(core, "dist/testing/index.js"),
    },
  });
  return jiti;
}

async function loadFile(use: string, dir: string): Promise<unknown> {
  const file = path.resolve(dir, use);
  if (!existsSync(file)) {
    // `./plugins/x.js` for x.ts (an import's NodeNext spelling) or no extension at all
    const near = PLUGIN_EXTENSIONS.map((ext) => `${use.replace(/\.[cm]?js$/, "")}${ext}`).find((other) =>
      existsSync(path.resolve(dir, other)),
    );
    throw new BatchpipeError(
      ErrorCodes.PLUGIN_NOT_FOUND,
      `plugin file ${use} does not exist (looked for ${file})`,
      {
        hint: near
          ? `did you mean use: ${near}? (\`use\` names the plugin file itself, its extension included)`
          : path.isAbsolute(use)
            ? "check the path"
            : `a path in \`use\` is relative to ${dir} (the spec file's folder; for a pipeline given in code, its \`dir\`, default the current folder)`,
        plugin: use,
      },
    );
  }
  if (statSync(file).isDirectory()) {
    const files = readdirSync(file).filter((name) => PLUGIN_EXTENSIONS.some((ext) => name.endsWith(ext)));
    const shown = files.slice(0, 5).map((name) => `${use.replace(/\/+$/, "")}/${name}`);
    throw new BatchpipeError(ErrorCodes.PLUGIN_NOT_FOUND, `plugin file ${use} is a folder (${file})`, {
      hint:
        shown.length > 0
          ? `name the plugin file in it: ${shown.map((f) => `use: ${f}`).join(", ")}${files.length > 5 ? ", …" : ""}`
          : "name the plugin file itself (use: ./plugins/x.ts)",
      plugin: use,
    });
  }
  try {
    return pickExport(await getJiti().import(file));
  } catch (error) {
    throw loadFailed(use, error);
  }
}

/** the files a path in `use` may name, as isPathLike takes them */
const PLUGIN_EXTENSIONS = [".ts", ".mts", ".cts", ".js", ".mjs", ".cjs"];

async function loadPackage(name: string, file: string): Promise<unknown> {
  try {
    const module = /\.[cm]?ts$/.test(file)
      ? await getJiti().import(file)
      : await import(pathToFileURL(file).href);
    return pickExport(module);
  } catch (error) {
    throw loadFailed(name, error);
  }
}

/** the default export, or a named export `plugin`; jiti's interop may nest either under `default` */
function pickExport(module: unknown): unknown {
  if (module === null || typeof module !== "object") return module;
  const namespace = module as { default?: { default?: unknown; plugin?: unknown }; plugin?: unknown };
  const candidates = [
    namespace.default,
    namespace.plugin,
    namespace.default?.default,
    namespace.default?.plugin,
  ];
  const plugin = candidates.find((value) => value !== null && typeof value === "object" && "kind" in value);
  return plugin ?? namespace.default ?? namespace.plugin;
}

/** ESM resolution (the `import` condition) first, then CommonJS `require` for packages without it */
function resolvePackage(name: string, dir: string): string | undefined {
  const from = pathToFileURL(path.join(dir, "package.json")).href;
  const url = getJiti().esmResolve(name, { parentURL: from, try: true });
  if (url) return url.startsWith("file:") ? fileURLToPath(url) : url;
  try {
    return createRequire(from).resolve(name);
  } catch {
    return undefined;
  }
}

function packageCandidates(kind: PluginKind, use: string): string[] {
  if (use.startsWith("@") || use.startsWith("batchpipe-")) return [use];
  const guessed = [`@batchpipe/${kind}-${use}`, `batchpipe-${kind}-${use}`];
  const official = Object.hasOwn(OFFICIAL_PACKAGES[kind], use) ? OFFICIAL_PACKAGES[kind][use] : undefined;
  return official ? [...new Set([official, ...guessed])] : guessed;
}

/** the package to install for a specifier: "@batchpipe/openai-emulator/provider" → "@batchpipe/openai-emulator" */
function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return parts.slice(0, specifier.startsWith("@") ? 2 : 1).join("/");
}

function checkPlugin<K extends PluginKind>(kind: K, value: unknown, from: string): PluginOfKind<K> {
  if (isPluginOfKind(value, kind)) return value as PluginOfKind<K>;
  const exports = from.startsWith("the plugin") ? "is" : "exports";
  const found = describeExport(value);
  const otherKind = (value as { kind?: unknown } | null)?.kind;
  const message =
    otherKind === kind
      ? `${from} ${exports} ${found} that lacks ${pluginShapeProblem(value, kind)}`
      : typeof otherKind === "string" && found.endsWith(")")
        ? `${from} ${exports} ${found}, but a ${kind} plugin is expected here`
        : `${from} ${exports} ${found}, not a ${kind} plugin`;
  return throwInvalid(kind, message, from);
}

function throwInvalid(kind: PluginKind, message: string, from: string): never {
  const made = `${DEFINERS[kind]}({ name, options, ${HOOKS[kind]}() {...} })`;
  throw new BatchpipeError(ErrorCodes.PLUGIN_INVALID, message, {
    // a plugin given in code is no module's export: say how to make it, not how to export it
    hint: from.startsWith("the plugin ")
      ? `make it with ${made}: options is a zod schema (z from ${PLUGIN_API})`
      : `export the plugin as the default export: export default ${made} with ${DEFINERS[kind]} from ${PLUGIN_API}`,
    plugin: from,
  });
}

const DEFINERS: Record<PluginKind, string> = {
  source: "defineSource",
  transform: "defineTransform",
  sink: "defineSink",
  provider: "defineProvider",
};
const HOOKS: Record<PluginKind, string> = {
  source: "read",
  transform: "create",
  sink: "open",
  provider: "open",
};

function notFound(
  kind: PluginKind,
  use: string,
  candidates: string[],
  options: Pick<ResolvePluginOptions, "plugins" | "builtins">,
): BatchpipeError {
  const official = [...new Set([...OFFICIAL_PLUGINS[kind], ...Object.keys(options.builtins?.[kind] ?? {})])];
  // the names `plugins` gives this kind (runSpec's plugins: { memory }): a typo of one is the likeliest
  const given = Object.entries(options.plugins ?? {})
    .filter(([, plugin]) => plugin?.kind === kind)
    .map(([name]) => name);
  const tried = given.length > 0 ? "the plugins given in code, the built-ins" : "the built-ins";
  return new BatchpipeError(
    ErrorCodes.PLUGIN_NOT_FOUND,
    `cannot find the ${kind} plugin "${use}" (tried ${tried}, ${candidates.join(", ")})`,
    { hint: notFoundHint(kind, use, candidates, official, given), plugin: use },
  );
}

/** never suggests installing a package whose name was only guessed from `use` */
function notFoundHint(
  kind: PluginKind,
  use: string,
  candidates: string[],
  official: string[],
  given: string[],
): string {
  const close = closest(use, [...given, ...official]);
  if (close && close !== use) return `did you mean "${close}"?`;
  if (official.includes(use)) {
    const name = packageName(candidates[0]!);
    // from code (@batchpipe/core's runSpec or BatchRunner), the official plugins come from `batchpipe`
    return `install ${name} beside the spec (\`npm i ${name}\`), or run the spec with the batchpipe command line, which includes it (from code: import runSpec or BatchRunner from "batchpipe" instead of "@batchpipe/core", or pass builtins: officialPlugins from "batchpipe")`;
  }
  if (candidates[0] === use) return `install ${use} beside the spec (\`npm i ${packageName(use)}\`)`;
  return `the official ${kind} plugins are ${official.join(", ")}; for another, point at a plugin file (use: ./plugins/${use}.ts) or install a plugin package and give its name in \`use\``;
}

function loadFailed(what: string, error: unknown): BatchpipeError {
  const message = error instanceof Error ? error.message : String(error);
  const [first = "", ...rest] = message.split("\n");
  const at = parseErrorPlace(rest);
  return new BatchpipeError(
    ErrorCodes.PLUGIN_INVALID,
    `${what} failed to load: ${first.trim()}${at ? ` at ${at}` : ""}`,
    {
      hint: "fix the error in the plugin module (run it with --debug for the stack (from code: the error's cause holds it))",
      plugin: what,
      cause: error,
    },
  );
}

/**
 * jiti puts a syntax error's place on the message's second line, " /path/plugin.ts:3:0", with a
 * 0-based column: returned as file:line:col with the column 1-based, as batchpipe writes places
 */
function parseErrorPlace(lines: string[]): string | undefined {
  for (const line of lines) {
    const match = /^\s*(\S.*):(\d+):(\d+)\s*$/.exec(line);
    if (match) return `${match[1]}:${match[2]}:${Number(match[3]) + 1}`;
  }
  return undefined;
}
