/** Structural checks of plugin objects (a plugin may come from another copy of core, so no instanceof). */
import type { Plugin, PluginKind } from "../plugin.js";

const HOOK: Record<PluginKind, string> = {
  source: "read",
  transform: "create",
  sink: "open",
  provider: "open",
};
const KINDS = new Set<string>(["source", "transform", "sink", "provider"]);

export function isPlugin(value: unknown): value is Plugin {
  if (value === null || typeof value !== "object") return false;
  const kind = (value as { kind?: unknown }).kind;
  return (
    typeof kind === "string" && KINDS.has(kind) && pluginShapeProblem(value, kind as PluginKind) === undefined
  );
}

/** an object with a string `kind`: what a spec takes as a plugin object in `use`, whole or not */
export function isPluginObject(value: unknown): value is { kind: string } {
  return (
    typeof value === "object" && value !== null && typeof (value as { kind?: unknown }).kind === "string"
  );
}

export function isPluginOfKind(value: unknown, kind: PluginKind): value is Plugin {
  return isPlugin(value) && value.kind === kind;
}

/** what a would-be plugin of `kind` lacks ("options (a zod schema), open()"), or undefined if nothing */
export function pluginShapeProblem(value: unknown, kind: PluginKind): string | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const candidate = value as Record<string, unknown>;
  const missing: string[] = [];
  if (typeof candidate.name !== "string" || candidate.name === "") missing.push("name");
  if (typeof (candidate.options as { safeParse?: unknown } | undefined)?.safeParse !== "function")
    missing.push("options (a zod schema)");
  if (typeof candidate[HOOK[kind]] !== "function") missing.push(`${HOOK[kind]}()`);
  return missing.length > 0 ? missing.join(", ") : undefined;
}

/** "a sink plugin (\"upper\")", "an object with keys a, b", "a function", "nothing" */
export function describeExport(value: unknown): string {
  if (value === undefined) return "nothing (no default export and no `plugin` export)";
  if (value === null) return "null";
  if (typeof value === "function") return "a function (export the plugin object itself, not a factory)";
  if (typeof value !== "object") return `a ${typeof value}`;
  const { kind, name } = value as { kind?: unknown; name?: unknown };
  if (typeof kind === "string" && KINDS.has(kind))
    return `a ${kind} plugin${typeof name === "string" ? ` ("${name}")` : ""}`;
  const keys = Object.keys(value);
  if (keys.length === 0) return "an empty object";
  const shown = keys.slice(0, 6).join(", ");
  return `an object with keys ${shown}${keys.length > 6 ? ", ..." : ""}`;
}
