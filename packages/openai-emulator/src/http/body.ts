import type { IncomingMessage } from "node:http";
import { invalidRequest } from "./api-error.js";

/** How a body that is too large or not JSON is answered (Anthropic's routes have their own). */
export interface BodyErrors {
  tooLarge(): Error;
  notJson(): Error;
}

/** Read a small JSON request body (control-plane calls only). */
export async function readJson(
  req: IncomingMessage,
  limit = 4 * 1024 * 1024,
  errors?: BodyErrors,
): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw errors ? errors.tooLarge() : invalidRequest("Request body is too large.");
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    if (errors) throw errors.notJson();
    throw invalidRequest(
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
    );
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
