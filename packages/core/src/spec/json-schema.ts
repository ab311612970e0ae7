/**
 * The JSON Schema of a pipeline spec, for editors (`# yaml-language-server: $schema=...`).
 * Generated from the zod schema; the built-in plugins' options (core's `prompt` and those in the
 * registry passed in: the batchpipe CLI passes the official ones) are spelled out through an `anyOf`
 * on `use`, any other plugin's options are open (they are checked when the plugin is loaded).
 */
import { z } from "zod";
import type { PluginKind } from "../plugin.js";
import { builtinPlugin, OFFICIAL_PLUGINS, type PluginRegistry } from "../plugins/resolve.js";
import { pipelineSchema } from "./schema.js";

type JsonSchema = Record<string, unknown>;

/** the document `batchpipe schema` prints and packages/core/schema/pipeline.schema.json holds */
export async function createPipelineJsonSchema(
  options: { builtins?: PluginRegistry } = {},
): Promise<JsonSchema> {
  const schema = toJson(pipelineSchema);
  const properties = schema.properties as Record<string, JsonSchema>;
  const source = pluginRefJson("source", false, options.builtins);
  const transform = pluginRefJson("transform", true, options.builtins);
  const sink = pluginRefJson("sink", false, options.builtins);
  const provider = pluginRefJson("provider", true, options.builtins);
  properties.provider = { ...provider, description: properties.provider?.description };
  properties.source = { ...source, description: properties.source?.description };
  properties.transform = { ...transform, description: properties.transform?.description };
  properties.sinks = { ...properties.sinks, items: sink };
  properties.errors = { ...properties.errors, items: sink };
  return { $schema: "http://json-schema.org/draft-07/schema#", ...withoutSchemaKey(schema) };
}

// --- internal ---

function pluginRefJson(kind: PluginKind, useOptional: boolean, builtins?: PluginRegistry): JsonSchema {
  const names = [...new Set([...OFFICIAL_PLUGINS[kind], ...Object.keys(builtins?.[kind] ?? {})])].filter(
    (name) => builtinPlugin(kind, name, builtins),
  );
  const branches: JsonSchema[] = [];
  for (const name of names) {
    const plugin = builtinPlugin(kind, name, builtins)!;
    const options = withoutSchemaKey(toJson(plugin.options as z.ZodType));
    const required = (options.required as string[] | undefined) ?? [];
    branches.push({
      ...options,
      type: "object",
      properties: { use: { const: name }, ...(options.properties as object) },
      required: useOptional ? required : ["use", ...required],
      additionalProperties: false,
    });
  }
  branches.push({
    type: "object",
    description:
      "A plugin from a package (@batchpipe/<kind>-<name>, batchpipe-<kind>-<name>) or a path (./plugins/x.ts); its options are checked when it is loaded.",
    properties: { use: { type: "string", not: { enum: names } } },
    required: ["use"],
    additionalProperties: true,
  });
  return { anyOf: branches };
}

function toJson(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, { io: "input", unrepresentable: "any", target: "draft-7" }) as JsonSchema;
}

function withoutSchemaKey(schema: JsonSchema): JsonSchema {
  const { $schema: _, ...rest } = schema;
  return rest;
}
