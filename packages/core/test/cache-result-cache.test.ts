import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cacheStats, clearCache, ResultCache } from "../src/cache/index.js";
import { RequestIndex } from "../src/engine/read/id-index.js";

const digest = (i: number) => RequestIndex.digest("/v1/chat/completions", `{"n":${i}}`);
/** `repeat` 20: ~300 bytes of JSON, stored as is; 200: ~2 KB, compressed */
const result = (i: number, repeat = 20) => ({
  response: {
    id: `chatcmpl-${i}`,
    choices: [{ message: { role: "assistant", content: `answer ${i} `.repeat(repeat) } }],
  },
  usage: { input_tokens: 12, output_tokens: 40 },
  model: "gpt-4o-mini",
});
const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "bp-cache-unit-"));

describe("ResultCache", () => {
  it("gives back what was stored, byte for byte, large values compressed on disk; nothing before flush; per provider", () => {
    const dir = tempDir();
    const cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    expect(cache.size).toBe(0);
    cache.add(digest(1), result(1, 200), 0.25);
    cache.add(digest(2), result(2), 0.5);
    expect(cache.get(digest(1))).toBeUndefined();
    cache.flush();
    const hit = cache.get(digest(1))!;
    expect(JSON.parse(hit.json)).toEqual(result(1, 200));
    expect(hit.cost).toBe(0.25);
    expect(JSON.parse(cache.get(digest(2))!.json)).toEqual(result(2));
    expect(cache.get(digest(3))).toBeUndefined();
    const stats = cache.stats();
    expect(stats.entries).toBe(2);
    // the large value compressed (the repeated answer shrinks well below its JSON), the small one as is
    const small = JSON.stringify(result(2)).length;
    expect(stats.bytes - small).toBeLessThan(JSON.stringify(result(1, 200)).length / 2);
    cache.close();
    // the same digest under another provider is another request
    const other = ResultCache.open(dir, { provider: "anthropic", maxBytes: 1 << 30 });
    expect(other.get(digest(1))).toBeUndefined();
    other.close();
    expect(fs.statSync(path.join(dir, "cache.db")).mode & 0o777).toBe(0o600);
  });

  it("survives reopening; an entry stored again replaces the old one and counts once", () => {
    const dir = tempDir();
    let cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    for (let i = 0; i < 100; i++) cache.add(digest(i), result(i), 0.01);
    cache.close();
    cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    expect(cache.size).toBe(100);
    cache.add(digest(5), result(500), 0.02);
    cache.flush();
    expect(cache.size).toBe(100);
    expect(JSON.parse(cache.get(digest(5))!.json)).toEqual(result(500));
    expect(cacheStats(dir)).toMatchObject({ entries: 100, bytes: cache.stats().bytes });
    cache.close();
  });

  it("evicts the oldest entries first once the stored bytes pass the bound", () => {
    const dir = tempDir();
    const probe = ResultCache.open(tempDir(), { provider: "openai", maxBytes: 1 << 30 });
    probe.add(digest(0), result(0), 0);
    probe.flush();
    const each = probe.stats().bytes;
    probe.close();
    // room for ~50 entries
    const cache = ResultCache.open(dir, { provider: "openai", maxBytes: each * 50 + each / 2 });
    for (let i = 0; i < 80; i++) {
      cache.add(digest(i), result(i), 0);
      // one flush per "delivery part" of 10
      if (i % 10 === 9) cache.flush();
    }
    const stats = cache.stats();
    expect(stats.bytes).toBeLessThanOrEqual(each * 50 + each / 2 + 8);
    expect(stats.entries).toBeGreaterThanOrEqual(45);
    expect(stats.entries).toBeLessThanOrEqual(51);
    // the newest are kept, the oldest gone
    expect(cache.get(digest(79))).toBeDefined();
    expect(cache.get(digest(0))).toBeUndefined();
    expect(cache.get(digest(80 - stats.entries))).toBeDefined();
    expect(cache.get(digest(79 - stats.entries))).toBeUndefined();
    cache.close();
  });

  it("clearCache deletes it and says what it held", () => {
    const dir = tempDir();
    const cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    cache.add(digest(1), result(1), 0);
    cache.close();
    expect(clearCache(dir)).toMatchObject({ entries: 1 });
    expect(cacheStats(dir)).toBeUndefined();
    expect(clearCache(dir)).toBeUndefined();
  });
});
