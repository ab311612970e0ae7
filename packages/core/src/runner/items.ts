/** The seed's item types: what `upload()` yields and what `download()` / `downloadError()` receive. */
import type { RecordPosition, Usage } from "../plugin.js";

/**
 * What `upload()` may yield: the fields batchpipe reads, so an app's own interface (no index
 * signature) fits; any other key is kept and handed back as `input` on the result.
 */
export interface BatchInputFields {
  /** the custom_id: unique in the dataset */
  id: string | number;
  messages?: readonly BatchMessage[];
  input?: unknown;
  /** any object: an SDK's params interface (ChatCompletionCreateParams) has no index signature */
  body?: object;
}

/**
 * One request to make. Give `messages` (chat), `input` (embeddings, moderations) or `body` (the whole request
 * body, for full control); `workConfig.model` and `workConfig.body` fill in what a body lacks.
 */
export interface BatchInputItem extends BatchInputFields {
  /** anything else is kept and handed back as `input` on the result */
  [key: string]: unknown;
}

export interface BatchItemError {
  code: string;
  message: string;
  status_code: number | null;
}

/**
 * A chat message: a literal may hold any other key (`name`, `tool_calls`), and an interface such as
 * the OpenAI SDK's ChatCompletionMessageParam (no index signature, `content` optional) fits too.
 */
export type BatchMessage =
  | { role: string; content?: unknown; [key: string]: unknown }
  | { role: string; content?: unknown };

/** A result handed to `download()`. */
export interface BatchOutputItem {
  id: string;
  status: "success" | "failed";
  /** the convenient part: chat content (parsed JSON under a json_schema), embedding vector, output text */
  content: unknown;
  /** the whole response body (null for a failure) */
  response: unknown;
  usage: Usage | null;
  /** null for a success */
  error: BatchItemError | null;
  model: string | null;
  batch_id: string | null;
  attempts: number;
  /** the item `upload()` yielded */
  input: Record<string, unknown> | null;
  source: RecordPosition;
}

/** A final failure handed to `downloadError()`. */
export interface BatchErrorItem {
  id: string;
  status: "failed";
  error: BatchItemError;
  batch_id: string | null;
  attempts: number;
  input: Record<string, unknown> | null;
  source: RecordPosition;
}
