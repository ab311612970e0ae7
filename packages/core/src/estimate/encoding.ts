/**
 * Tokenizer selection. The BPE tables are big (o200k_base: ~0.5 s and ~40 MB of heap to build), so
 * each is built on first use from gpt-tokenizer's rank file, and held only while someone needs it:
 * the read phase calibrates its estimates with them and then lets go, so the rest of the read and
 * the collection beside it do not carry them. They are plain data read from a file, not a module,
 * so letting go frees them.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

export type EncodingName = "o200k_base" | "cl100k_base";

export interface Encoding {
  countTokens(text: string): number;
}

/** o200k_base for gpt-4o / 4.1 / 4.5 / 5 / o-series and unknown (newer) models; cl100k_base for older ones. */
export function encodingForModel(model: string | undefined): EncodingName {
  if (!model) return "o200k_base";
  const m = model.toLowerCase();
  if (CL100K_PREFIXES.some((p) => m.startsWith(p)) && !O200K_PREFIXES.some((p) => m.startsWith(p))) {
    return "cl100k_base";
  }
  return "o200k_base";
}

export function loadEncoding(name: EncodingName): Encoding {
  let encoding = loaded.get(name);
  if (!encoding) {
    const api = encoderClass().getEncodingApi(name, () => readRanks(name));
    // user text may contain "<|endoftext|>" and the like: count it as plain text, never throw
    const options = { disallowedSpecial: new Set<string>() };
    encoding = { countTokens: (text) => api.countTokens(text, options) };
    loaded.set(name, encoding);
  }
  return encoding;
}

/**
 * Hold the loaded tables until the returned function is called; the last holder to let go drops
 * them. A later loadEncoding() builds them again.
 */
export function holdEncodings(): () => void {
  holders++;
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    holders--;
    if (holders === 0) loaded.clear();
  };
}

/** the encodings whose tables are built and held now */
export function loadedEncodings(): EncodingName[] {
  return [...loaded.keys()];
}

/**
 * The mergeable ranks of an encoding as gpt-tokenizer's own tables hold them (a token that is valid
 * UTF-8 as its string, any other as its bytes), from the package's `.tiktoken` file
 * (`<base64 token> <rank>` per line).
 */
export function readRanks(name: EncodingName): (string | number[])[] {
  const file = path.join(
    path.dirname(require.resolve("gpt-tokenizer/package.json")),
    "data",
    `${name}.tiktoken`,
  );
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const ranks: (string | number[])[] = [];
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (line === "") continue;
    const space = line.indexOf(" ");
    const bytes = Buffer.from(line.slice(0, space), "base64");
    let token: string | number[];
    try {
      token = decoder.decode(bytes);
      // a leading byte-order mark is dropped by the decoder: such a token stays bytes
      if (Buffer.byteLength(token) !== bytes.length) token = [...bytes];
    } catch {
      token = [...bytes];
    }
    ranks[Number(line.slice(space + 1))] = token;
  }
  return ranks;
}

interface EncoderClass {
  getEncodingApi(
    name: EncodingName,
    getRanks: () => (string | number[])[],
  ): { countTokens(text: string, options: { disallowedSpecial: Set<string> }): number };
}

/** gpt-tokenizer's encoder class (no table), its CJS build so loading stays synchronous */
function encoderClass(): EncoderClass {
  return (require("gpt-tokenizer/cjs/GptEncoding") as { GptEncoding: EncoderClass }).GptEncoding;
}

const require = createRequire(import.meta.url);
let holders = 0;
const loaded = new Map<EncodingName, Encoding>();

const O200K_PREFIXES = ["gpt-4o", "gpt-4.1", "gpt-4.5", "chatgpt-4o", "gpt-5", "o1", "o3", "o4", "gpt-oss"];
const CL100K_PREFIXES = [
  "gpt-4",
  "gpt-3.5",
  "text-embedding-",
  "davinci-002",
  "babbage-002",
  "text-moderation",
];
