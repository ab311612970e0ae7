import { createHash } from "node:crypto";
import fs from "node:fs";
import type { IncomingMessage } from "node:http";
import busboy from "busboy";
import { ApiError, invalidRequest } from "../http/api-error.js";
import { drain } from "../http/body.js";
import { readLines } from "../lines.js";
import type { FileStore, StoredFile } from "./store.js";

const PURPOSES = new Set(["assistants", "batch", "fine-tune", "vision", "user_data", "evals"]);

/**
 * Parse a multipart upload, streaming the `file` part to disk (never held in memory).
 * Over `maxBytes` the rest is drained and the answer is 400 "File is too large.".
 */
export async function receiveUpload(
  req: IncomingMessage,
  store: FileStore,
  maxBytes: number,
  checkJsonl = false,
): Promise<StoredFile> {
  const contentType = req.headers["content-type"] ?? "";
  if (!contentType.startsWith("multipart/form-data")) {
    await drain(req);
    throw invalidRequest("Invalid Content-Type header, expected multipart/form-data.");
  }
  const fields: Record<string, string> = {};
  let received: { tmp: string; filename: string; bytes: number; sha256: string } | undefined;
  let tooLarge = false;
  const writes: Promise<void>[] = [];
  const outputs: fs.WriteStream[] = [];

  const parser = busboy({
    headers: req.headers,
    limits: { fileSize: maxBytes, files: 4, fieldSize: 1 << 20 },
  });
  parser.on("field", (name, value) => {
    fields[name] = value;
  });
  parser.on("file", (name, stream, info) => {
    if (name !== "file" || received) {
      stream.resume();
      return;
    }
    const tmp = store.tmpPath(".upload");
    const hash = createHash("sha256");
    let bytes = 0;
    const entry = { tmp, filename: info.filename ?? "upload", bytes: 0, sha256: "" };
    received = entry;
    const out = fs.createWriteStream(tmp);
    outputs.push(out);
    stream.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    stream.on("limit", () => {
      tooLarge = true;
    });
    stream.pipe(out);
    const written = new Promise<void>((resolve, reject) => {
      out.on("finish", () => {
        entry.bytes = bytes;
        entry.sha256 = hash.digest("hex");
        resolve();
      });
      out.on("error", reject);
    });
    // an aborted upload destroys `out`; that rejection is expected and must not go unhandled
    written.catch(() => {});
    writes.push(written);
  });
  await new Promise<void>((resolve, reject) => {
    parser.on("close", resolve);
    parser.on("error", reject);
    req.on("error", reject);
    req.pipe(parser);
  }).catch(async (cause: unknown) => {
    // a broken or aborted upload leaves nothing behind
    for (const out of outputs) out.destroy();
    if (received) fs.rmSync(received.tmp, { force: true });
    await drain(req);
    throw invalidRequest(`Could not parse multipart form: ${(cause as Error).message}`);
  });
  await Promise.all(writes);

  const discard = () => {
    if (received) fs.rmSync(received.tmp, { force: true });
  };
  if (tooLarge) {
    discard();
    throw new ApiError(400, "File is too large.", { type: "invalid_request_error" });
  }
  if (!received)
    throw invalidRequest("Missing required parameter: 'file'.", "file", "missing_required_parameter");
  const purpose = fields.purpose;
  if (!purpose) {
    discard();
    throw invalidRequest("Missing required parameter: 'purpose'.", "purpose", "missing_required_parameter");
  }
  if (!PURPOSES.has(purpose)) {
    discard();
    throw invalidRequest(
      `Invalid value: '${purpose}'. Supported values are: 'assistants', 'batch', 'fine-tune', 'vision', 'user_data', and 'evals'.`,
      "purpose",
      "invalid_value",
    );
  }
  let expiresAfterSeconds: number | undefined;
  const anchor = fields["expires_after[anchor]"];
  const seconds = fields["expires_after[seconds]"];
  if (anchor !== undefined || seconds !== undefined) {
    // both fields or neither; the only anchor is the upload time
    const problem =
      anchor === undefined
        ? missingField("expires_after.anchor")
        : anchor !== "created_at"
          ? invalidRequest(
              `Invalid value: '${anchor}'. Supported values are: 'created_at'.`,
              "expires_after.anchor",
              "invalid_value",
            )
          : seconds === undefined
            ? missingField("expires_after.seconds")
            : undefined;
    if (problem) {
      discard();
      throw problem;
    }
  }
  if (seconds !== undefined) {
    const n = Number(seconds);
    if (!Number.isInteger(n) || n < 3600 || n > 2_592_000) {
      discard();
      throw invalidRequest(
        `Invalid 'expires_after.seconds': expected an integer between 3600 and 2592000, got ${seconds}.`,
        "expires_after.seconds",
        "invalid_value",
      );
    }
    expiresAfterSeconds = n;
  }
  if (checkJsonl && purpose === "batch" && !(await looksLikeJsonl(received.tmp))) {
    discard();
    throw invalidRequest("Invalid file format for Batch API. Must be .jsonl");
  }
  return store.adopt(received.tmp, {
    filename: received.filename,
    purpose,
    bytes: received.bytes,
    sha256: received.sha256,
    expiresAfterSeconds,
  });
}

function missingField(name: string): ApiError {
  return invalidRequest(`Missing required parameter: '${name}'.`, name, "missing_required_parameter");
}

/** The light upload-time check: the first non-blank line is a JSON object. */
async function looksLikeJsonl(filePath: string): Promise<boolean> {
  for await (const { line } of readLines(filePath)) {
    if (line.trim() === "") continue;
    try {
      const value: unknown = JSON.parse(line);
      return typeof value === "object" && value !== null && !Array.isArray(value);
    } catch {
      return false;
    }
  }
  return false;
}
