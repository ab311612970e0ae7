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
  acceptReferences(schema);
  schema.definitions = { ...(schema.definitions as object), reference: REFERENCE_DEFINITION };
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

/**
 * `${VAR}` references are interpolated before the spec is validated, so a value written as one
 * (`max_requests: ${N:-50}`, `url: "${DATABASE_URL}"`) is valid wherever a value is: every schema a
 * scalar value is checked against (a type other than object/array, an enum, a const, a string
 * with a pattern or format) also accepts a string that holds a reference. `use` is left as it is:
 * its last branch (a plugin by package or path) already takes any other string.
 */
function acceptReferences(node: JsonSchema): void {
  const each = (map: unknown) => {
    if (!isSchema(map)) return;
    for (const [key, value] of Object.entries(map))
      if (isSchema(value) && key !== "use") map[key] = withReference(value);
  };
  each(node.properties);
  each(node.definitions);
  if (isSchema(node.items)) node.items = withReference(node.items);
  if (isSchema(node.additionalProperties))
    node.additionalProperties = withReference(node.additionalProperties);
  for (const key of ["anyOf", "oneOf", "allOf"])
    if (Array.isArray(node[key]))
      for (const branch of node[key] as unknown[]) if (isSchema(branch)) acceptReferences(branch);
}

/** where a value may be a reference; defined once, under the root's `definitions` */
const REFERENCE: JsonSchema = { $ref: "#/definitions/reference" };

const REFERENCE_DEFINITION: JsonSchema = {
  type: "string",
  pattern: "\\$\\{[^}]+\\}",
  description:
    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the spec syntax
    "A ${VAR} or ${VAR:-default} reference, interpolated from the environment before the spec is checked.",
};

function withReference(node: JsonSchema): JsonSchema {
  acceptReferences(node);
  if (!checksScalar(node)) return node;
  if (
    Array.isArray(node.anyOf) &&
    Object.keys(node).every((key) => key === "anyOf" || key === "description" || key === "default")
  )
    return { ...node, anyOf: [...node.anyOf, REFERENCE] };
  const { description, default: fallback, ...rest } = node;
  return {
    ...(description === undefined ? {} : { description }),
    ...(fallback === undefined ? {} : { default: fallback }),
    anyOf: [rest, REFERENCE],
  };
}

/** the schema checks a scalar a reference could stand for, and would refuse some strings */
function checksScalar(node: JsonSchema): boolean {
  if (Array.isArray(node.anyOf))
    return (node.anyOf as unknown[]).some((branch) => isSchema(branch) && checksScalar(branch));
  if ("const" in node || Array.isArray(node.enum)) return true;
  const types = Array.isArray(node.type)
    ? (node.type as string[])
    : typeof node.type === "string"
      ? [node.type]
      : [];
  if (types.some((type) => type !== "object" && type !== "array" && type !== "string")) return true;
  return (
    types.includes("string") &&
    ["pattern", "format", "minLength", "maxLength", "not"].some((key) => key in node)
  );
}

function isSchema(value: unknown): value is JsonSchema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function toJson(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, { io: "input", unrepresentable: "any", target: "draft-7" }) as JsonSchema;
}

function withoutSchemaKey(schema: JsonSchema): JsonSchema {
  const { $schema: _, ...rest } = schema;
  return rest;
}
