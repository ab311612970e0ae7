import { ApiError, invalidRequest } from "../http/api-error.js";
import type { ResolvedOptions } from "../options.js";

export interface CreateBatchBody {
  input_file_id: string;
  endpoint: string;
  completion_window: string;
  metadata: Record<string, string> | null;
  outputExpiresAfter: number | undefined;
}

/** The synchronous checks of POST /v1/batches, with OpenAI's codes and messages. */
export function checkCreateBody(raw: unknown, options: ResolvedOptions): CreateBatchBody {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    throw invalidRequest("The request body must be a JSON object.");
  }
  const body = raw as Record<string, unknown>;
  for (const key of ["input_file_id", "endpoint", "completion_window"]) {
    if (body[key] === undefined || body[key] === null) {
      throw invalidRequest(`Missing required parameter: '${key}'.`, key, "missing_required_parameter");
    }
    if (typeof body[key] !== "string") {
      throw invalidRequest(
        `Invalid type for '${key}': expected a string, but got ${describe(body[key])} instead.`,
        key,
        "invalid_type",
      );
    }
  }
  const endpoint = body.endpoint as string;
  if (!options.endpoints.includes(endpoint)) {
    throw invalidRequest(
      `Invalid value: '${endpoint}'. Supported values are: ${listValues(options.endpoints)}.`,
      "endpoint",
      "invalid_value",
    );
  }
  if (body.completion_window !== "24h") {
    throw invalidRequest(
      `Invalid value: '${String(body.completion_window)}'. Supported values are: '24h'.`,
      "completion_window",
      "invalid_value",
    );
  }
  return {
    input_file_id: body.input_file_id as string,
    endpoint,
    completion_window: "24h",
    metadata: checkMetadata(body.metadata),
    outputExpiresAfter: checkOutputExpiry(body.output_expires_after),
  };
}

function checkMetadata(metadata: unknown): Record<string, string> | null {
  if (metadata === undefined || metadata === null) return null;
  if (typeof metadata !== "object" || Array.isArray(metadata)) {
    throw invalidRequest(
      `Invalid type for 'metadata': expected an object, but got ${describe(metadata)} instead.`,
      "metadata",
      "invalid_type",
    );
  }
  const entries = Object.entries(metadata as Record<string, unknown>);
  if (entries.length > 16) {
    throw invalidRequest(
      `Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with ${entries.length} properties instead.`,
      "metadata",
      "object_above_max_properties",
    );
  }
  for (const [key, value] of entries) {
    if (key.length > 64) {
      throw invalidRequest(
        `Invalid 'metadata': string too long. Expected a string with maximum length 64, but got a string with length ${key.length} instead.`,
        "metadata",
        "string_above_max_length",
      );
    }
    if (typeof value !== "string") {
      throw invalidRequest(
        `Invalid type for 'metadata.${key}': expected a string, but got ${describe(value)} instead.`,
        `metadata.${key}`,
        "invalid_type",
      );
    }
    if (value.length > 512) {
      throw invalidRequest(
        `Invalid 'metadata.${key}': string too long. Expected a string with maximum length 512, but got a string with length ${value.length} instead.`,
        `metadata.${key}`,
        "string_above_max_length",
      );
    }
  }
  return { ...(metadata as Record<string, string>) };
}

function checkOutputExpiry(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (v.anchor !== "created_at") {
    throw invalidRequest(
      `Invalid value: '${String(v.anchor)}'. Supported values are: 'created_at'.`,
      "output_expires_after.anchor",
      "invalid_value",
    );
  }
  const seconds = v.seconds;
  if (typeof seconds !== "number" || !Number.isInteger(seconds) || seconds < 3600 || seconds > 2_592_000) {
    throw new ApiError(
      400,
      "Invalid 'output_expires_after.seconds': expected an integer between 3600 and 2592000.",
      {
        param: "output_expires_after.seconds",
        code: "invalid_value",
      },
    );
  }
  return seconds;
}

/** "'a', 'b', and 'c'" as in OpenAI's messages. */
function listValues(values: readonly string[]): string {
  const quoted = values.map((v) => `'${v}'`);
  if (quoted.length <= 2) return quoted.join(" and ");
  return `${quoted.slice(0, -1).join(", ")}, and ${quoted[quoted.length - 1]}`;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  switch (typeof value) {
    case "object":
      return "an object";
    case "number":
      return Number.isInteger(value) ? "an integer" : "a decimal";
    case "boolean":
      return "a boolean";
    default:
      return `a ${typeof value}`;
  }
}
