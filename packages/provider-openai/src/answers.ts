/**
 * Every answer is checked before it is believed. A 2xx can come from something that is not the
 * API (a proxy's or captive portal's page, an empty body, JSON of another shape): read as an
 * object it would become a file or batch with the id "", and the run would lose track of paid
 * work. Such an answer is an UnexpectedAnswerError: a failed call, retried like a dropped one.
 */
import { isObject } from "./format.js";
import { toBatchInfo, toFileInfo } from "./normalise.js";
import type { BatchInfo, FileInfo } from "./types.js";

export class UnexpectedAnswerError extends Error {
  override name = "UnexpectedAnswerError";
}

/** a file object, or an UnexpectedAnswerError */
export function checkedFile(raw: unknown): FileInfo {
  if (!isObject(raw) || !nonEmptyString(raw.id) || (raw.object !== undefined && raw.object !== "file")) {
    throw unexpected("a file object", raw);
  }
  return toFileInfo(raw);
}

/**
 * A batch object with an id and a status, or an UnexpectedAnswerError. A status word we do not know
 * (a compatible server's own) is kept: the batch is polled as running, up to its deadline.
 */
export function checkedBatch(raw: unknown): BatchInfo {
  if (
    !isObject(raw) ||
    !nonEmptyString(raw.id) ||
    !nonEmptyString(raw.status) ||
    (raw.object !== undefined && raw.object !== "batch")
  ) {
    throw unexpected("a batch object", raw);
  }
  return toBatchInfo(raw);
}

/** a list page's body: `{ data: [...] }` (an HTML page would otherwise read as an empty list) */
export function checkPage(body: unknown): void {
  if (!isObject(body) || !Array.isArray(body.data)) throw unexpected("a list", body);
}

/** the file content's response: not a web page */
export function checkContent(response: Response): void {
  const type = response.headers.get("content-type") ?? "";
  if (/text\/html/i.test(type)) throw unexpected("the file's content", `(${type})`);
}

/** The SDK's own JSON parse failure (a cut-off or non-JSON body sent as JSON) is a bad answer too. */
export async function parsed<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    if (error instanceof SyntaxError) throw unexpected("JSON", `(${error.message})`);
    throw error;
  }
}

function unexpected(wanted: string, raw: unknown): UnexpectedAnswerError {
  return new UnexpectedAnswerError(`the answer is not ${wanted} from the API: ${sample(raw)}`);
}

function sample(raw: unknown): string {
  if (raw === "" || raw === undefined || raw === null) return "an empty body";
  const text = typeof raw === "string" ? raw : JSON.stringify(raw);
  const short = text.replace(/\s+/g, " ").trim();
  return short.length > 80 ? `${short.slice(0, 80)}…` : short;
}

function nonEmptyString(value: unknown): boolean {
  return typeof value === "string" && value !== "";
}
