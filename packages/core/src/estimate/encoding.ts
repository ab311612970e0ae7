/**
 * Tokenizer selection. The BPE tables are big (importing o200k_base costs ~0.4 s), so they are
 * required lazily on first use: commands that never estimate (status, --version) don't pay for them.
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
    // the CJS build, so the load can stay synchronous and lazy; a fresh require per load, so no
    // parent module keeps the table in its `children` once releaseEncodings() drops it
    const mod = createRequire(import.meta.url)(`gpt-tokenizer/cjs/encoding/${name}`) as {
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
 * Hold the loaded tables until the returned function is called; the last holder to let go drops
 * them (o200k_base: ~15 MB of heap, ~60 MB of RSS to load), so a run does not carry them past its
 * calibration. A later loadEncoding() loads them again.
 */
export function holdEncodings(): () => void {
  holders++;
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    holders--;
    if (holders === 0) releaseEncodings();
  };
}

function releaseEncodings(): void {
  if (loaded.size === 0) return;
  loaded.clear();
  // the module cache holds the tables too, and each cached module keeps the module that first
  // required it (module.parent): forget the whole package
  for (const key of Object.keys(requireCache)) {
    if (TOKENIZER_MODULE.test(key)) delete requireCache[key];
  }
}

const requireCache = createRequire(import.meta.url).cache;
const TOKENIZER_MODULE = /[\\/]gpt-tokenizer[\\/]cjs[\\/]/;
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
