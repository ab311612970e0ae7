import type { IncomingMessage } from "node:http";
import { invalidRequest } from "./api-error.js";

/**
 * OpenAI's live routes (chat completions, responses, embeddings, completions, moderations) take a
 * request body of up to 50 MB: the documented limit per request (platform.openai.com/docs/guides/
 * images-vision, "Image input requirements": up to 20 MB per image, 500 images and 50 MB per
 * request; base64 file inputs travel in the same body, platform.openai.com/docs/guides/pdf-files).
 * Past it the API's edge answers 413 with an HTML page, not the API's JSON error (tooLarge in
 * live-routes.ts). Anthropic's POST /v1/messages takes 32 MB (its own route).
 */
export const OPENAI_LIVE_BODY_LIMIT = 50 * 1024 * 1024;

/** A body past its route's limit, when the route answers it itself (`BodyErrors.tooLarge`). */
export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`Request body is larger than ${limit} bytes.`);
  }
}

/** How a body that is too large or not JSON is answered (Anthropic's routes have their own). */
export interface BodyErrors {
  tooLarge(): Error;
  notJson(): Error;
}

/** OpenAI's answer to a body that is not JSON. */
export const NOT_JSON =
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)";

/** Read a JSON request body of at most `limit` bytes (default 4 MB: control-plane calls). */
export async function readJson(
  req: IncomingMessage,
  limit = 4 * 1024 * 1024,
  errors?: BodyErrors,
): Promise<unknown> {
  if (Number(req.headers["content-length"]) > limit) {
    // said up front: answered without buffering it
    await drain(req);
    throw errors ? errors.tooLarge() : invalidRequest("Request body is too large.");
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // past the limit: read on to the end without keeping it (leaving the loop early would destroy
    // the request, and the answer with it)
    if (size <= limit) chunks.push(chunk);
  }
  if (size > limit) throw errors ? errors.tooLarge() : invalidRequest("Request body is too large.");
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    if (errors) throw errors.notJson();
    throw invalidRequest(NOT_JSON);
  }
}

/** Consume and discard a request body, so an early answer does not break the client's upload. */
export async function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded) return;
  req.resume();
  await new Promise<void>((resolve) => {
    req.once("end", resolve);
    req.once("error", () => resolve());
    req.once("close", resolve);
  });
}
