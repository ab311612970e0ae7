type Schema = Record<string, unknown>;

/**
 * A deterministic value that satisfies a JSON schema (the subset structured outputs use):
 * enum/const → first value, strings → a short text, numbers → 0 or minimum, booleans → true,
 * arrays → minItems (at least 1) items, objects → every property, anyOf/oneOf → first branch, $ref.
 */
export function sampleFromSchema(
  schema: unknown,
  root: unknown = schema,
  name = "value",
  depth = 0,
): unknown {
  if (!schema || typeof schema !== "object" || depth > 32) return null;
  const s = schema as Schema;
  if (typeof s.$ref === "string") return sampleFromSchema(resolveRef(root, s.$ref), root, name, depth + 1);
  if ("const" in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  const branches = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (Array.isArray(branches) && branches.length > 0) {
    const nonNull = branches.find((b) => (b as Schema)?.type !== "null") ?? branches[0];
    return sampleFromSchema(nonNull, root, name, depth + 1);
  }
  if (Array.isArray(s.allOf) && s.allOf.length > 0) {
    return sampleFromSchema(Object.assign({}, ...(s.allOf as Schema[])), root, name, depth + 1);
  }
  let type = s.type;
  if (Array.isArray(type)) type = type.find((t) => t !== "null") ?? type[0];
  if (type === undefined) type = s.properties ? "object" : s.items ? "array" : "string";
  switch (type) {
    case "object": {
      const out: Record<string, unknown> = {};
      const props = (s.properties ?? {}) as Record<string, unknown>;
      for (const [key, sub] of Object.entries(props)) out[key] = sampleFromSchema(sub, root, key, depth + 1);
      for (const key of (s.required as string[] | undefined) ?? []) {
        if (!(key in out)) out[key] = "example";
      }
      return out;
    }
    case "array": {
      const count = Math.max(1, typeof s.minItems === "number" ? s.minItems : 1);
      const max = typeof s.maxItems === "number" ? s.maxItems : count;
      const items = Array.isArray(s.prefixItems) ? (s.prefixItems as unknown[]) : undefined;
      const n = Math.min(count, max);
      return Array.from({ length: n }, (_, i) =>
        sampleFromSchema(items?.[i] ?? s.items, root, name, depth + 1),
      );
    }
    case "integer":
      return typeof s.minimum === "number" ? Math.ceil(s.minimum) : 0;
    case "number":
      return typeof s.minimum === "number" ? s.minimum : 0;
    case "boolean":
      return true;
    case "null":
      return null;
    default:
      return sampleString(s, name);
  }
}

function sampleString(s: Schema, name: string): string {
  switch (s.format) {
    case "date-time":
      return "2024-01-01T00:00:00Z";
    case "date":
      return "2024-01-01";
    case "email":
      return "user@example.com";
    case "uri":
      return "https://example.com";
    case "uuid":
      return "00000000-0000-4000-8000-000000000000";
  }
  let text = `example ${name}`;
  if (typeof s.maxLength === "number") text = text.slice(0, s.maxLength);
  if (typeof s.minLength === "number" && text.length < s.minLength) text = text.padEnd(s.minLength, "x");
  return text;
}

function resolveRef(root: unknown, ref: string): unknown {
  if (!ref.startsWith("#")) return {};
  let node: unknown = root;
  for (const part of ref.slice(1).split("/").filter(Boolean)) {
    node = (node as Record<string, unknown> | undefined)?.[part.replace(/~1/g, "/").replace(/~0/g, "~")];
  }
  return node ?? {};
}
