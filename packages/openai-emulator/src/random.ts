import { createHash } from "node:crypto";

/** A seeded PRNG (mulberry32) returning floats in [0, 1). */
export type Random = () => number;

export function createRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A deterministic float in [0, 1) from any list of keys (order-independent of other draws). */
export function hashUnit(...keys: (string | number)[]): number {
  const digest = createHash("sha256").update(keys.join("\u0000")).digest();
  return digest.readUInt32BE(0) / 4294967296;
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

export function createIds(random: Random) {
  const hex = (n: number) => {
    // eight hex digits per draw
    let s = "";
    while (s.length < n)
      s += Math.floor(random() * 4294967296)
        .toString(16)
        .padStart(8, "0");
    return s.slice(0, n);
  };
  const base62 = (n: number) => {
    let s = "";
    for (let i = 0; i < n; i++) s += BASE62[Math.floor(random() * 62)];
    return s;
  };
  return {
    hex,
    file: () => `file-${base62(22)}`,
    batch: () => `batch_${hex(32)}`,
    batchRequest: () => `batch_req_${hex(32)}`,
    request: () => `req_${hex(32)}`,
  };
}

export type Ids = ReturnType<typeof createIds>;

/** Fisher-Yates permutation of 0..n-1. */
export function permutation(n: number, random: Random): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}
