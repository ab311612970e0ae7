/**
 * Tokenizer selection. The BPE tables are big (importing o200k_base costs ~0.4 s and ~15 MB of
 * heap), so each is required on first use: commands that never estimate (status, --version) don't
 * pay for them. Once loaded, a table stays for the life of the process, as any required module does.
 */
import { createRequire } from "node:module";

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
    // the CJS build, so the load can stay synchronous and lazy
    const mod = require(`gpt-tokenizer/cjs/encoding/${name}`) as {
      countTokens(text: string, options: { disallowedSpecial: Set<string> }): number;
    };
    // user text may contain "<|endoftext|>" and the like: count it as plain text, never throw
    const options = { disallowedSpecial: new Set<string>() };
    encoding = { countTokens: (text) => mod.countTokens(text, options) };
    loaded.set(name, encoding);
  }
  return encoding;
}

/**
 * Does nothing: the tables stay loaded (see the top). Kept only while the read phase still calls
 * it; remove it with that call.
 */
export function holdEncodings(): () => void {
  return () => {};
}

const require = createRequire(import.meta.url);
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
