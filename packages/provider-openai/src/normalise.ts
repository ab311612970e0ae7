/**
 * OpenAI's objects → the client's shapes. Compatible servers drift (reference §4): upper-case or
 * American statuses, `errors` as an object or a bare array, "" for absent file ids. All of it stops here.
 */
import type { BatchErrorInfo, BatchInfo, BatchStatus, FileInfo } from "./types.js";

export function toBatchInfo(raw: unknown): BatchInfo {
  const b = asRecord(raw);
  const counts = asRecord(b.request_counts);
  return {
    id: String(b.id ?? ""),
    status: normaliseStatus(b.status),
    endpoint: str(b.endpoint) ?? "",
    model: nonEmpty(b.model),
    input_file_id: str(b.input_file_id) ?? "",
    output_file_id: nonEmpty(b.output_file_id),
    error_file_id: nonEmpty(b.error_file_id),
    errors: normaliseErrors(b.errors),
    request_counts: {
      total: num(counts.total) ?? 0,
      completed: num(counts.completed) ?? 0,
      failed: num(counts.failed) ?? 0,
    },
    metadata: normaliseMetadata(b.metadata),
    created_at: num(b.created_at) ?? 0,
    expires_at: num(b.expires_at),
    completed_at: num(b.completed_at),
    usage: normaliseUsage(b.usage),
  };
}

export function toFileInfo(raw: unknown): FileInfo {
  const f = asRecord(raw);
  return {
    id: String(f.id ?? ""),
    filename: str(f.filename) ?? "",
    bytes: num(f.bytes) ?? 0,
    purpose: str(f.purpose) ?? "",
    created_at: num(f.created_at) ?? 0,
  };
}

/** Lower-cased; American spellings and spaces/hyphens mapped to OpenAI's vocabulary. */
export function normaliseStatus(value: unknown): BatchStatus {
  const s = String(value ?? "")
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, "_");
  return (STATUS_ALIASES[s] ?? s) as BatchStatus;
}

const STATUS_ALIASES: Record<string, BatchStatus> = {
  canceled: "cancelled",
  canceling: "cancelling",
  inprogress: "in_progress",
};

function normaliseErrors(value: unknown): BatchErrorInfo[] {
  const list = Array.isArray(value) ? value : Array.isArray(asRecord(value).data) ? asRecord(value).data : [];
  return (list as unknown[]).map((item) => {
    const e = asRecord(item);
    return {
      code: str(e.code) ?? null,
      message: str(e.message) ?? "",
      line: num(e.line),
      param: str(e.param) ?? null,
    };
  });
}

function normaliseMetadata(value: unknown): Record<string, string> | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v !== null && v !== undefined) out[key] = String(v);
  }
  return out;
}

function normaliseUsage(value: unknown): BatchInfo["usage"] {
  if (typeof value !== "object" || value === null) return null;
  const u = asRecord(value);
  const input = num(u.input_tokens) ?? 0;
  const output = num(u.output_tokens) ?? 0;
  const cached = num(asRecord(u.input_tokens_details).cached_tokens);
  return {
    input_tokens: input,
    output_tokens: output,
    total_tokens: num(u.total_tokens) ?? input + output,
    ...(cached === null ? {} : { cached_tokens: cached }),
  };
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** "" / null / undefined → null */
function nonEmpty(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

function num(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}
