/**
 * The plugin references of a spec (source, transform, sinks, errors, with their defaults), each
 * resolved to its plugin and its options checked by the plugin's own schema.
 */
import type { z } from "zod";
import { BatchpipeError, ErrorCodes } from "../errors.js";
import type { Plugin, PluginKind } from "../plugin.js";
import { type PluginRegistry, resolvePlugin } from "../plugins/resolve.js";
import { isPluginObject } from "../plugins/shape.js";
import {
  issuesFromZod,
  knownKeys,
  type SpecIssue,
  type SpecPath,
  specErrorMap,
  unknownKeyIssue,
} from "./issues.js";
import { toDotPath } from "./locate.js";
import type { PluginRef } from "./schema.js";

export interface ResolvedPlugin<P> {
  plugin: P;
  /** the options without `use`, validated by `plugin.options` (defaults applied) */
  options: unknown;
  /** the `use` value as written (a plugin object's name when given in code) */
  use: string;
  /** for messages: `sinks[1] (sqlite)` */
  label: string;
  /** where the entry sits in the spec: `["sinks", 1]` */
  path: SpecPath;
}

export interface Slot {
  kind: PluginKind;
  path: SpecPath;
  ref: PluginRef;
  /** the slot is a default the spec did not write: what its messages say it is */
  implied?: string;
}

/** every plugin reference in the raw data, with defaults for `transform` and `errors` */
export function pluginSlots(data: unknown): Slot[] {
  if (!isRecord(data)) return [];
  const slots: Slot[] = [];
  const add = (kind: PluginKind, at: SpecPath, value: unknown, implied?: string) => {
    // a plugin object the schema takes (an object with a kind) gets a slot even when it is not a
    // whole plugin: resolving it names what it lacks, where dropping it lost its results unsaid
    if (isRecord(value) && (typeof value.use === "string" ? value.use !== "" : isPluginObject(value.use)))
      slots.push({ kind, path: at, ref: value as PluginRef, ...(implied ? { implied } : {}) });
  };
  // a provider or transform without `use` is the default one, and its messages say so
  const addDefaulted = (kind: "provider" | "transform", value: unknown, use: string) => {
    const ref = value ?? {};
    if (isRecord(ref) && ref.use === undefined)
      add(kind, [kind], { use, ...ref }, `the default ${kind}: the spec names none`);
    else add(kind, [kind], ref);
  };
  addDefaulted("provider", data.provider, "openai");
  add("source", ["source"], data.source);
  addDefaulted("transform", data.transform, "prompt");
  if (Array.isArray(data.sinks))
    for (const [index, ref] of data.sinks.entries()) add("sink", ["sinks", index], ref);
  if (Array.isArray(data.errors))
    for (const [index, ref] of data.errors.entries()) add("sink", ["errors", index], ref);
  else if (data.errors === undefined && typeof data.name === "string" && /^[\w-]+$/.test(data.name))
    add(
      "sink",
      ["errors", 0],
      { use: "jsonl", path: `.batchpipe/${data.name}/errors.jsonl` },
      "the default errors sink: the spec has no errors:",
    );
  return slots;
}

/** `dir`: the folder local plugin files resolve against; `plugins`: given in code, by name; `builtins`: the host's */
export async function resolveSlot(
  slot: Slot,
  ctx: { dir: string; plugins?: Record<string, Plugin>; builtins?: PluginRegistry },
): Promise<{ resolved?: ResolvedPlugin<Plugin>; issues: SpecIssue[] }> {
  const { use, ...options } = slot.ref;
  let plugin: Plugin;
  try {
    plugin = await resolvePlugin(slot.kind, use, {
      dir: ctx.dir,
      plugins: ctx.plugins,
      builtins: ctx.builtins,
    });
  } catch (error) {
    if (!(error instanceof BatchpipeError)) throw error;
    return {
      issues: [
        {
          path: [...slot.path, "use"],
          message: slot.implied ? `${error.message} (${slot.implied})` : error.message,
          hint: error.hint,
          code: error.code,
          cause: error.cause,
        },
      ],
    };
  }
  const schema = plugin.options as z.ZodType;
  let parsed: ReturnType<z.ZodType["safeParse"]>;
  try {
    parsed = schema.safeParse(options, { error: specErrorMap });
  } catch (error) {
    const message = `the options schema of ${plugin.name} threw: ${error instanceof Error ? error.message : String(error)}`;
    return {
      issues: [
        {
          path: [...slot.path, "use"],
          message,
          code: ErrorCodes.PLUGIN_INVALID,
          hint: "fix the plugin's options schema",
        },
      ],
    };
  }
  const strays = strippedKeys(schema, options, slot.path);
  if (!parsed.success)
    return {
      issues: [...issuesFromZod(parsed.error, { prefix: slot.path, schema, input: options }), ...strays],
    };
  if (strays.length > 0) return { issues: strays };
  const name = typeof use === "string" ? use : plugin.name;
  const label = `${toDotPath(slot.path)} (${plugin.name})`;
  return { resolved: { plugin, options: parsed.data, use: name, label, path: slot.path }, issues: [] };
}

/** a plugin schema made with z.object() drops unknown keys silently; the spec treats them as errors */
function strippedKeys(schema: z.ZodType, options: Record<string, unknown>, at: SpecPath): SpecIssue[] {
  const def = (schema as { _zod?: { def?: { type?: string; catchall?: unknown } } })._zod?.def;
  if (def?.type !== "object" || def.catchall !== undefined) return [];
  const known = knownKeys(schema, []);
  return Object.keys(options)
    .filter((key) => !known.includes(key))
    .map((key) => unknownKeyIssue([...at, key], known));
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
