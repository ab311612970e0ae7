import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { deflateRawSync } from "node:zlib";
import Database from "better-sqlite3";
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
/** the key the cache stores for a digest under the provider "openai": its tag (8 bytes of SHA-256), then the digest */
const cacheKey = (d: number[]) => {
  const k = Buffer.alloc(8 + 12);
  createHash("sha256").update("openai").digest().copy(k, 0, 0, 8);
  for (const [i, w] of d.entries()) k.writeUInt32LE(w >>> 0, 8 + 4 * i);
  return k;
};
/** the key layouts 1–5 stored: the provider's label as text and a newline, then the digest */
const textKey = (d: number[]) => {
  const k = Buffer.alloc(7 + 12);
  k.write("openai\n");
  for (const [i, w] of d.entries()) k.writeUInt32LE(w >>> 0, 7 + 4 * i);
  return k;
};
/** the tables of the second layout, as its build made them */
const SECOND_LAYOUT = `CREATE TABLE IF NOT EXISTS results (seq INTEGER PRIMARY KEY, value BLOB NOT NULL,
    size INTEGER NOT NULL, cost REAL NOT NULL, created_at INTEGER NOT NULL, z INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS keys (key BLOB PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS fresh (key BLOB PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
  PRAGMA user_version = 2`;
const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "bp-cache-unit-"));
/** bytes this process has written so far (its threads' too) */
const bytesWritten = () => Number(/wchar: (\d+)/.exec(fs.readFileSync("/proc/self/io", "utf8"))![1]);

/** a cache file of the third or fourth layout with these key tables and results 1, 2, 3 as blocks 1, 2, 3 */
function olderLayout(dir: string, version: number, keyTables: string[]) {
  const db = new Database(path.join(dir, "cache.db"));
  const keys = (name: string) =>
    `CREATE TABLE ${name} (key BLOB PRIMARY KEY, seq INTEGER NOT NULL, i INTEGER NOT NULL, cost REAL NOT NULL) WITHOUT ROWID;`;
  db.exec(`CREATE TABLE blocks (seq INTEGER PRIMARY KEY AUTOINCREMENT, value BLOB NOT NULL, ends BLOB,
      size INTEGER NOT NULL, created_at INTEGER NOT NULL, z INTEGER NOT NULL);
    ${keyTables.map(keys).join("\n")}
    PRAGMA user_version = ${version}`);
  const json = [1, 2, 3].map((i) => JSON.stringify(result(i)));
  const insert = db.prepare(
    "INSERT INTO blocks (value, ends, size, created_at, z) VALUES (?, NULL, ?, 1, 0)",
  );
  for (const j of json) insert.run(Buffer.from(j), j.length);
  return { db, json };
}

/** result i stored through another connection `db` (a block of one, its key in the first level); what a hit on it gives */
function storeBeside(db: Database.Database, i: number, cost: number) {
  const json = JSON.stringify(result(i));
  const { lastInsertRowid: seq } = db
    .prepare("INSERT INTO blocks (value, ends, size, created_at, z) VALUES (?, NULL, ?, 1, 0)")
    .run(Buffer.from(json), json.length);
  db.prepare("INSERT INTO level_0 VALUES (?, ?, 0, ?)").run(cacheKey(digest(i)), seq, cost);
  return { json, cost };
}

/** after the upgrade, results 1, 2 and 3 answer (costs 0.1, 0.2, 0.3) and count once each (with `entries` in all) */
async function expectUpgraded(dir: string, json: string[], entries = 3) {
  const cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
  expect(cache.stats()).toMatchObject({ entries });
  expect(cache.get(digest(1))).toEqual({ json: json[0], cost: 0.1 });
  expect(cache.get(digest(2))).toEqual({ json: json[1], cost: 0.2 });
  expect(cache.get(digest(3))).toEqual({ json: json[2], cost: 0.3 });
  await cache.close();
}

describe("ResultCache", async () => {
  it("gives back what was stored, byte for byte, compressed on disk; nothing before flush; per provider", async () => {
    const dir = tempDir();
    const cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    expect(cache.size).toBe(0);
    cache.add(digest(1), result(1, 200), 0.25);
    cache.add(digest(2), result(2), 0.5);
    expect(cache.get(digest(1))).toBeUndefined();
    await cache.flush();
    const hit = cache.get(digest(1))!;
    expect(JSON.parse(hit.json)).toEqual(result(1, 200));
    expect(hit.cost).toBe(0.25);
    expect(JSON.parse(cache.get(digest(2))!.json)).toEqual(result(2));
    expect(cache.get(digest(3))).toBeUndefined();
    const stats = cache.stats();
    expect(stats.entries).toBe(2);
    // stored in one block, compressed (the repeated answer shrinks well below its JSON)
    expect(stats.bytes).toBeLessThan(JSON.stringify(result(1, 200)).length / 2);
    await cache.close();
    // the same digest under another provider is another request
    const other = ResultCache.open(dir, { provider: "anthropic", maxBytes: 1 << 30 });
    expect(other.get(digest(1))).toBeUndefined();
    await other.close();
    expect(fs.statSync(path.join(dir, "cache.db")).mode & 0o777).toBe(0o600);
  });

  it("a writer thread that dies: the flush fails with STATE_FAILED and close() still ends", async () => {
    const dir = tempDir();
    const cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    // the writer opens the file itself when first needed: with its folder gone it cannot, and dies
    fs.rmSync(dir, { recursive: true, force: true });
    cache.add(digest(1), result(1), 0.1);
    await expect(cache.flush()).rejects.toMatchObject({
      code: "STATE_FAILED",
      message: expect.stringContaining("the directory does not exist"),
    });
    // the run's end comes later (its error handled first): close() waited for an exit that had
    // happened already, and so did the run, for ever
    await new Promise((resolve) => setTimeout(resolve, 200));
    const closed = await Promise.race([
      cache.close().then(() => "closed"),
      new Promise((resolve) => setTimeout(resolve, 5000, "still waiting")),
    ]);
    expect(closed).toBe("closed");
  });

  it("survives reopening; an entry stored again replaces the old one and counts once", async () => {
    const dir = tempDir();
    let cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    for (let i = 0; i < 100; i++) cache.add(digest(i), result(i), 0.01);
    await cache.close();
    cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    expect(cache.size).toBe(100);
    cache.add(digest(5), result(500), 0.02);
    await cache.flush();
    expect(cache.size).toBe(100);
    expect(JSON.parse(cache.get(digest(5))!.json)).toEqual(result(500));
    expect(cacheStats(dir)).toMatchObject({ entries: 100, bytes: cache.stats().bytes });
    await cache.close();
  });

  it("keeps its figures in the file: an open reads them instead of counting; a store that did not keep them is counted again", async () => {
    const dir = tempDir();
    let cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    for (let i = 0; i < 100; i++) cache.add(digest(i), result(i), 0.01);
    await cache.close();
    const db = new Database(path.join(dir, "cache.db"));
    const kept = () =>
      db.prepare("SELECT bytes, levels FROM figures").get() as { bytes: number; levels: string };
    expect(JSON.parse(kept().levels)).toEqual([100, 0, 0, 0]);
    expect(kept().bytes).toBe(cacheStats(dir)!.bytes);
    // the row is what an open reads: no scan of the keys (at 20M stored results ~1 s from a cold disk)
    db.exec(`UPDATE figures SET levels = '[7,0,0,0]'`);
    cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    expect(cache.size).toBe(7);
    await cache.close();
    expect(cacheStats(dir)!.entries).toBe(7);
    // a build of this layout from before the row stores a result without keeping it: counted again
    storeBeside(db, 100, 0.01);
    cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    expect(cache.size).toBe(101);
    await cache.close();
    // and kept again by that open, though it stored nothing
    expect(JSON.parse(kept().levels)).toEqual([101, 0, 0, 0]);
    cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    cache.add(digest(101), result(101), 0.01);
    await cache.close();
    expect(JSON.parse(kept().levels)).toEqual([102, 0, 0, 0]);
    // a cache from before the figures table gets it, counted
    db.exec("DROP TABLE figures");
    cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    expect(cache.size).toBe(102);
    expect(JSON.parse(cache.get(digest(100))!.json)).toEqual(result(100));
    await cache.close();
    expect(cacheStats(dir)!.entries).toBe(102);
    db.close();
  });

  it("evicts the oldest blocks first once the stored bytes pass the bound, down to 90% of it", async () => {
    // each flush of 10 results stores one block: measure one
    const probe = ResultCache.open(tempDir(), { provider: "openai", maxBytes: 1 << 30 });
    for (let i = 10; i < 20; i++) probe.add(digest(i), result(i), 0);
    await probe.flush();
    const block = probe.stats().bytes;
    await probe.close();
    // room for 5.5 blocks
    const bound = block * 5.5;
    const dir = tempDir();
    const cache = ResultCache.open(dir, { provider: "openai", maxBytes: bound, mergeAt: 25 });
    for (let i = 10; i < 90; i++) {
      cache.add(digest(i), result(i), 0);
      // one flush per "delivery part" of 10
      if (i % 10 === 9) await cache.flush();
    }
    const stats = cache.stats();
    expect(stats.bytes).toBeLessThanOrEqual(bound);
    // each flush that passes the bound (6 blocks) evicts whole blocks down to 90% of it: 4 blocks
    expect(stats.entries).toBeGreaterThanOrEqual(40);
    expect(stats.entries).toBeLessThanOrEqual(50);
    expect(stats.entries % 10).toBe(0);
    expect(cacheStats(dir)).toMatchObject({ entries: stats.entries, bytes: stats.bytes });
    // the newest are kept, the oldest gone (from both key tables: merged every 25)
    expect(cache.get(digest(89))).toBeDefined();
    expect(cache.get(digest(10))).toBeUndefined();
    expect(cache.get(digest(90 - stats.entries))).toBeDefined();
    expect(cache.get(digest(89 - stats.entries))).toBeUndefined();
    await cache.close();
  });

  it("keys merged into the large table still answer; a key stored again after its merge answers with the newer result and counts once", async () => {
    const dir = tempDir();
    const cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30, mergeAt: 30 });
    for (let i = 0; i < 100; i++) {
      cache.add(digest(i), result(i), 0.01);
      if (i % 10 === 9) await cache.flush();
    }
    // 90 merged, 10 waiting in `fresh`
    for (const i of [0, 45, 89, 95, 99]) expect(JSON.parse(cache.get(digest(i))!.json)).toEqual(result(i));
    cache.add(digest(7), result(700), 0.02);
    cache.add(digest(97), result(970), 0.02);
    await cache.flush();
    expect(JSON.parse(cache.get(digest(7))!.json)).toEqual(result(700));
    expect(cache.get(digest(7))!.cost).toBe(0.02);
    expect(JSON.parse(cache.get(digest(97))!.json)).toEqual(result(970));
    // before the next merge the older result of 7 is still stored, but counted once
    expect(cache.stats().entries).toBe(100);
    expect(cacheStats(dir)!.entries).toBe(100);
    for (let i = 100; i < 130; i++) cache.add(digest(i), result(i), 0.01);
    await cache.flush();
    expect(JSON.parse(cache.get(digest(7))!.json)).toEqual(result(700));
    const stats = cache.stats();
    expect(stats.entries).toBe(130);
    expect(cacheStats(dir)).toMatchObject({ entries: 130, bytes: stats.bytes });
    await cache.close();
  });

  it("keys moved down every level still answer; one stored again answers with its newest result and counts once; eviction takes keys from every level", async () => {
    const dir = tempDir();
    // levels of 5, 20 and 320 keys, then the last: 1,000 keys reach all four
    let cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30, mergeAt: 5 });
    const store = async (from: number, to: number, value = (i: number) => result(i)) => {
      for (let i = from; i < to; i++) {
        cache.add(digest(i), value(i), 0.01);
        if (i % 3 === 2) await cache.flush();
      }
      await cache.flush();
    };
    const db = new Database(path.join(dir, "cache.db"), { readonly: true });
    const LEVELS = ["level_0", "level_1", "level_2", "level_3"];
    const rows = () =>
      LEVELS.map((t) => (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n);
    const levelsOf = (i: number) =>
      LEVELS.flatMap((t, level) =>
        db.prepare(`SELECT 1 FROM ${t} WHERE key = ?`).get(cacheKey(digest(i))) ? [level] : [],
      );
    const distinct = () =>
      (
        db
          .prepare(`SELECT count(*) AS n FROM (${LEVELS.map((t) => `SELECT key FROM ${t}`).join(" UNION ")})`)
          .get() as { n: number }
      ).n;
    await store(0, 1000);
    expect(rows()).toEqual([4, 12, 312, 672]);
    expect(levelsOf(0)).toEqual([3]);
    expect(levelsOf(999)).toEqual([0]);
    for (const i of [0, 1, 333, 640, 990, 999])
      expect(JSON.parse(cache.get(digest(i))!.json)).toEqual(result(i));
    // stored again: the newer copy, in an upper level, answers
    await store(0, 1, () => result(7000));
    expect(levelsOf(0)).toEqual([1, 3]);
    expect(JSON.parse(cache.get(digest(0))!.json)).toEqual(result(7000));
    expect(cache.stats().entries).toBe(1000);
    // and once more: three copies, the newest answers, the entry counts once
    await store(0, 1, () => result(9000));
    expect(levelsOf(0)).toEqual([0, 1, 3]);
    expect(JSON.parse(cache.get(digest(0))!.json)).toEqual(result(9000));
    expect(cache.stats().entries).toBe(1000);
    // as the levels move down, the copies fold into one
    await store(1000, 1040);
    expect(levelsOf(0)).toEqual([3]);
    expect(JSON.parse(cache.get(digest(0))!.json)).toEqual(result(9000));
    expect(cache.stats().entries).toBe(1040);
    expect(cacheStats(dir)!.entries).toBe(1040);
    // past a bound of half the stored bytes: the oldest blocks go, and their keys from every level
    const bytes = cache.stats().bytes;
    await cache.close();
    cache = ResultCache.open(dir, { provider: "openai", maxBytes: bytes / 2, mergeAt: 5 });
    await store(2000, 2003);
    const kept = cache.stats().entries;
    expect(kept).toBeLessThan(560);
    expect(kept).toBe(distinct());
    expect(cacheStats(dir)!.entries).toBe(kept);
    expect(cache.get(digest(1))).toBeUndefined();
    expect(levelsOf(1)).toEqual([]);
    expect(JSON.parse(cache.get(digest(0))!.json)).toEqual(result(9000));
    expect(JSON.parse(cache.get(digest(2002))!.json)).toEqual(result(2002));
    db.close();
    await cache.close();
  });

  it("storing writes a bounded share of the key index per result: the last level is rewritten a quarter as often as the first moves", async () => {
    // 20,000 results, a commit per 50, the first level moving down every 100: with two levels the
    // whole key table was rewritten at each move, 156 MB in all (14, 32, 48, 63 MB a quarter);
    // with three, ~60 MB (8, 14, 16, 22)
    const cache = ResultCache.open(tempDir(), { provider: "openai", maxBytes: 1 << 30, mergeAt: 100 });
    const before = bytesWritten();
    for (let i = 0; i < 20_000; i++) {
      cache.add(digest(i), result(i, 1), 0);
      if (i % 50 === 49) await cache.flush();
    }
    await cache.close();
    expect((bytesWritten() - before) / 20_000).toBeLessThan(5_000);
  });

  it("storing into a cache much larger than its levels writes a bounded share of it per result", async () => {
    // levels of 10, 40 and 640 keys, then the last: with 20,000 keys, the last level is rewritten
    // every 640 results (~3.9 KB written a result over the last 4,000). With the third level as the
    // last, it was rewritten every 40 (~20.6 KB a result); at 20M real keys, 14 GB per 1M results
    const cache = ResultCache.open(tempDir(), { provider: "openai", maxBytes: 1 << 30, mergeAt: 10 });
    let before = 0;
    for (let i = 0; i < 20_000; i++) {
      if (i === 16_000) before = bytesWritten();
      cache.add(digest(i), result(i, 1), 0);
      if (i % 50 === 49) await cache.flush();
    }
    await cache.close();
    expect((bytesWritten() - before) / 4_000).toBeLessThan(8_000);
  });

  it("reads a cache of the fourth layout (three levels of keys) after upgrading it: its last level stays the last", async () => {
    const dir = tempDir();
    const { db, json } = olderLayout(dir, 4, ["keys_0", "keys_1", "keys_2"]);
    // 1 in the last level, 2 in the first, 3 in the last and stored again since (block 3, level 1)
    db.prepare("INSERT INTO keys_2 VALUES (?, 1, 0, 0.1), (?, 1, 0, 0.1)").run(
      textKey(digest(1)),
      textKey(digest(3)),
    );
    db.prepare("INSERT INTO keys_0 VALUES (?, 2, 0, 0.2)").run(textKey(digest(2)));
    db.prepare("INSERT INTO keys_1 VALUES (?, 3, 0, 0.3)").run(textKey(digest(3)));
    db.close();
    await expectUpgraded(dir, json);
    const after = new Database(path.join(dir, "cache.db"), { readonly: true });
    const count = (t: string) => (after.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
    expect(["level_0", "level_1", "level_2", "level_3"].map(count)).toEqual([1, 1, 0, 2]);
    expect(after.pragma("user_version", { simple: true })).toBe(6);
    after.close();
  });

  it("reads a cache of the fifth layout (keys begin with the provider's label as text) after upgrading it: each key gets its tag, in the same level; the figures stay", async () => {
    const dir = tempDir();
    const { db, json } = olderLayout(dir, 5, ["keys_0", "keys_1", "keys_2", "keys_3"]);
    db.exec(`CREATE TABLE figures (one INTEGER PRIMARY KEY CHECK (one = 1), seq INTEGER NOT NULL,
      bytes INTEGER NOT NULL, levels TEXT NOT NULL)`);
    // 1 in the last level, 2 in the third, 3 in the last and stored again since (block 3, level 0)
    db.prepare("INSERT INTO keys_3 VALUES (?, 1, 0, 0.1), (?, 1, 0, 0.1)").run(
      textKey(digest(1)),
      textKey(digest(3)),
    );
    db.prepare("INSERT INTO keys_2 VALUES (?, 2, 0, 0.2)").run(textKey(digest(2)));
    db.prepare("INSERT INTO keys_0 VALUES (?, 3, 0, 0.3)").run(textKey(digest(3)));
    // the same request under another provider's label: kept apart
    db.prepare("INSERT INTO keys_3 VALUES (?, 2, 0, 0.4)").run(
      Buffer.concat([Buffer.from("provider (anthropic)\n"), textKey(digest(1)).subarray(7)]),
    );
    const bytes = json.reduce((n, j) => n + j.length, 0);
    db.prepare("INSERT INTO figures VALUES (1, 3, ?, '[1,0,1,3]')").run(bytes);
    db.close();
    // 1, 2 and 3 under "openai", and 1 under the other label
    await expectUpgraded(dir, json, 4);
    const after = new Database(path.join(dir, "cache.db"), { readonly: true });
    const count = (t: string) => (after.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
    expect(["level_0", "level_1", "level_2", "level_3"].map(count)).toEqual([1, 0, 1, 3]);
    expect(after.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'keys_%'").all()).toEqual([]);
    expect(after.prepare("SELECT seq FROM level_3 WHERE key = ?").get(cacheKey(digest(1)))).toEqual({
      seq: 1,
    });
    expect(after.prepare("SELECT length(key) AS n FROM level_3 LIMIT 1").get()).toEqual({ n: 20 });
    expect(after.pragma("user_version", { simple: true })).toBe(6);
    // the figures row still holds (nothing was counted again)
    expect(after.prepare("SELECT levels FROM figures").get()).toEqual({ levels: "[1,0,1,3]" });
    after.close();
    const anthropic = ResultCache.open(dir, { provider: "anthropic-label", maxBytes: 1 << 30 });
    expect(anthropic.get(digest(1))).toBeUndefined();
    await anthropic.close();
    const labelled = ResultCache.open(dir, { provider: "provider (anthropic)", maxBytes: 1 << 30 });
    expect(labelled.get(digest(1))).toEqual({ json: json[1], cost: 0.4 });
    await labelled.close();
  });

  it("reads a cache of the third layout (two levels of keys) after upgrading it", async () => {
    const dir = tempDir();
    const { db, json } = olderLayout(dir, 3, ["result_keys", "fresh_keys"]);
    // 1 merged, 2 waiting, 3 merged and stored again since (its newer result is block 3)
    db.prepare("INSERT INTO result_keys VALUES (?, 1, 0, 0.1), (?, 1, 0, 0.1)").run(
      textKey(digest(1)),
      textKey(digest(3)),
    );
    db.prepare("INSERT INTO fresh_keys VALUES (?, 2, 0, 0.2), (?, 3, 0, 0.3)").run(
      textKey(digest(2)),
      textKey(digest(3)),
    );
    db.close();
    await expectUpgraded(dir, json);
  });

  it("stores results in blocks: each comes back byte for byte in any order, a large one alone; compressed", async () => {
    const dir = tempDir();
    const cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    const big = {
      response: { data: [{ embedding: Array.from({ length: 5000 }, (_, i) => i / 7) }] },
      usage: {},
      model: "e",
    };
    let raw = 0;
    for (let i = 0; i < 1000; i++) {
      const r = i === 500 ? big : result(i, i % 7);
      raw += JSON.stringify(r).length;
      cache.add(digest(i), r, i / 1000);
    }
    await cache.flush();
    // in an order that jumps between blocks
    const order = Array.from({ length: 1000 }, (_, i) => (i * 389) % 1000);
    for (const i of order) {
      const hit = cache.get(digest(i))!;
      expect(hit.json).toBe(JSON.stringify(i === 500 ? big : result(i, i % 7)));
      expect(hit.cost).toBe(i / 1000);
    }
    expect(cache.stats()).toMatchObject({ entries: 1000 });
    expect(cache.stats().bytes).toBeLessThan(raw / 3);
    await cache.close();
    const db = new Database(path.join(dir, "cache.db"));
    // 1,000 results in blocks of at most 32, the one of > 32 KB alone
    const blocks = db.prepare("SELECT count(*) AS n, sum(ends IS NULL) AS single FROM blocks").get() as {
      n: number;
      single: number;
    };
    db.close();
    expect(blocks.n).toBeGreaterThanOrEqual(Math.ceil(999 / 32) + 1);
    expect(blocks.n).toBeLessThan(50);
    expect(blocks.single).toBeGreaterThanOrEqual(1);
  });

  it("hand-over buffers the writer gives back are filled again: every result of many flushes comes back byte for byte", async () => {
    const dir = tempDir();
    const cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    // a ~1.3 MB result needs a buffer larger than a spare: it gets one of its own
    const big = { response: { text: "x".repeat(1_300_000) }, usage: {}, model: "m" };
    const stored = (i: number) => (i === 2500 ? big : result(i, 1 + ((i * 7) % 60)));
    for (let part = 0; part < 6; part++) {
      // each part hands over several times; the writer's buffers come back while flush() waits
      for (let i = part * 700; i < (part + 1) * 700; i++) cache.add(digest(i), stored(i), i);
      await cache.flush();
    }
    for (let i = 0; i < 4200; i++) expect(cache.get(digest(i))?.json).toBe(JSON.stringify(stored(i)));
    expect(cache.size).toBe(4200);
    await cache.close();
  });

  it("hits in another order than stored (a provider returns a batch's results in any order) read each block once; past ~16 MB the oldest go and are read again when asked", async () => {
    const dir = tempDir();
    const cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    for (let i = 0; i < 3200; i++) cache.add(digest(i), result(i), 0);
    await cache.flush();
    const stored = () => {
      const db = new Database(path.join(dir, "cache.db"), { readonly: true });
      const n = (db.prepare("SELECT count(*) AS n FROM blocks").get() as { n: number }).n;
      db.close();
      return n;
    };
    const blocks = stored();
    expect(blocks).toBeGreaterThanOrEqual(100);
    // every hit jumps to another block: with the last 8 blocks kept, each of the 3,200 read one
    const order = Array.from({ length: 3200 }, (_, i) => (i * 1031) % 3200);
    for (const i of order) expect(cache.get(digest(i))!.json).toBe(JSON.stringify(result(i)));
    expect(cache.blocksRead).toBe(blocks);
    // ~24 MB of results (~2 KB each, 16 to a block): the first blocks go as the last are read
    for (let i = 3200; i < 15_200; i++) cache.add(digest(i), result(i, 200), 0);
    await cache.flush();
    for (let i = 3200; i < 15_200; i++) expect(cache.get(digest(i))).toBeDefined();
    const read = cache.blocksRead;
    expect(read - blocks).toBe(stored() - blocks);
    expect(cache.get(digest(3200))!.json).toBe(JSON.stringify(result(3200, 200)));
    expect(cache.blocksRead).toBe(read + 1);
    // the newest stayed
    expect(cache.get(digest(15_199))!.json).toBe(JSON.stringify(result(15_199, 200)));
    expect(cache.blocksRead).toBe(read + 1);
    await cache.close();
  });

  it("an earlier build that opens this cache keeps to tables of its own; what it stored is taken in later", async () => {
    const dir = tempDir();
    let cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    for (let i = 0; i < 3; i++) cache.add(digest(i), result(i), 0.1);
    await cache.close();
    // what a build of the second layout does with it: creates its tables, stores a result (seq 1,
    // as this layout's first block), marks the file 2
    const db = new Database(path.join(dir, "cache.db"));
    db.exec(SECOND_LAYOUT);
    const json = JSON.stringify(result(9));
    db.prepare("INSERT INTO results VALUES (1, ?, ?, 0.9, 1, 0)").run(Buffer.from(json), json.length);
    db.prepare("INSERT INTO keys VALUES (?, 1)").run(textKey(digest(9)));
    db.close();
    cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    expect(cache.stats()).toMatchObject({ entries: 4 });
    for (let i = 0; i < 3; i++)
      expect(cache.get(digest(i))).toEqual({ json: JSON.stringify(result(i)), cost: 0.1 });
    expect(cache.get(digest(9))).toEqual({ json, cost: 0.9 });
    await cache.close();
  });

  it("a run's cache, until it stores, shares a snapshot among the lookups of one turn (what another connection stores then is seen from the next turn); once it stores, and in a plan's, each lookup sees the latest", async () => {
    const dir = tempDir();
    let cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    cache.add(digest(1), result(1), 0.1);
    await cache.close();
    const db = new Database(path.join(dir, "cache.db"));
    /** what another connection (the writer thread) stores */
    const storeElsewhere = (i: number) => storeBeside(db, i, 0.2);
    const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
    // a plan's cache (no lock: a run beside it may be storing)
    const plan = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    expect(plan.get(digest(5))).toBeUndefined();
    const five = storeElsewhere(5);
    expect(plan.get(digest(5))).toEqual(five);
    await plan.close();
    // a rerun's cache: it looks up, stores nothing
    cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30, locked: true });
    expect(cache.get(digest(2))).toBeUndefined();
    const two = storeElsewhere(2);
    expect(cache.get(digest(2))).toBeUndefined();
    expect(cache.get(digest(1))).toEqual({ json: JSON.stringify(result(1)), cost: 0.1 });
    await nextTurn();
    expect(cache.get(digest(2))).toEqual(two);
    // once it stores, its writer thread commits: no read transaction is held across lookups
    cache.add(digest(3), result(3), 0.3);
    await cache.flush();
    expect(cache.get(digest(3))).toEqual({ json: JSON.stringify(result(3)), cost: 0.3 });
    const four = storeElsewhere(4);
    expect(cache.get(digest(4))).toEqual(four);
    db.close();
    await cache.close();
  });

  it("a key whose block the writer evicted between the lookup's two reads is a miss, not a crash", async () => {
    const dir = tempDir();
    const cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    cache.add(digest(1), result(1), 0.1);
    await cache.flush();
    // the key read, then its block gone: what the reader sees when an eviction commits in between
    const db = new Database(path.join(dir, "cache.db"));
    db.exec("DELETE FROM blocks");
    db.close();
    expect(cache.get(digest(1))).toBeUndefined();
    await cache.close();
  });

  it("a damaged cache file is refused (STATE_FAILED) with what to do about damage, not about permissions", () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "cache.db"), Buffer.alloc(64 * 1024, 0xff));
    expect(() => ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 })).toThrow(
      expect.objectContaining({
        code: "STATE_FAILED",
        message: expect.stringMatching(/cannot open the result cache .*cache\.db: file is not a database/),
        hint: expect.stringMatching(/^The cache file is damaged .*batchpipe cache <spec> --clear/),
      }),
    );
  });

  it("refuses a cache of a newer layout (STATE_FAILED) and leaves it as it is", () => {
    const dir = tempDir();
    const db = new Database(path.join(dir, "cache.db"));
    db.pragma("user_version = 7");
    db.close();
    expect(() => ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 })).toThrow(
      expect.objectContaining({
        code: "STATE_FAILED",
        message: expect.stringMatching(/layout \(7\) is newer/),
      }),
    );
    const after = new Database(path.join(dir, "cache.db"));
    expect(after.pragma("user_version", { simple: true })).toBe(7);
    after.close();
  });

  it("reads a cache of the second layout (a row per result, keys and fresh) after upgrading it", async () => {
    const dir = tempDir();
    const db = new Database(path.join(dir, "cache.db"));
    db.exec(SECOND_LAYOUT);
    const small = JSON.stringify(result(1));
    const large = JSON.stringify(result(2, 200));
    const insert = db.prepare(
      "INSERT INTO results (seq, value, size, cost, created_at, z) VALUES (?, ?, ?, ?, 1, ?)",
    );
    insert.run(1, Buffer.from(small), small.length, 0.5, 0);
    // the second layout deflated with a 4 KB window
    const deflated = deflateRawSync(large, { level: 1, windowBits: 12, memLevel: 5 });
    insert.run(2, deflated, deflated.length, 0.75, 1);
    // merged, and stored again since the last merge (its older result still stored)
    insert.run(3, Buffer.from(small), small.length, 0.25, 0);
    db.prepare("INSERT INTO keys VALUES (?, 1), (?, 2)").run(textKey(digest(1)), textKey(digest(2)));
    db.prepare("INSERT INTO fresh VALUES (?, 3)").run(textKey(digest(1)));
    db.close();
    const cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    expect(cache.stats()).toMatchObject({ entries: 2 });
    expect(cache.get(digest(1))).toEqual({ json: small, cost: 0.25 });
    expect(cache.get(digest(2))).toEqual({ json: large, cost: 0.75 });
    cache.add(digest(3), result(3), 0.1);
    await cache.flush();
    expect(cache.get(digest(3))).toEqual({ json: JSON.stringify(result(3)), cost: 0.1 });
    await cache.close();
    expect(cacheStats(dir)).toMatchObject({ entries: 3 });
  });

  it("reads a cache of the first layout (one table with a unique key) after upgrading it", async () => {
    const dir = tempDir();
    const db = new Database(path.join(dir, "cache.db"));
    db.exec(`CREATE TABLE entries (seq INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE, value BLOB NOT NULL,
      size INTEGER NOT NULL, cost REAL NOT NULL, created_at INTEGER NOT NULL, z INTEGER NOT NULL)`);
    const json = JSON.stringify(result(1));
    db.prepare("INSERT INTO entries (key, value, size, cost, created_at, z) VALUES (?, ?, ?, 0.5, 1, 0)").run(
      textKey(digest(1)),
      Buffer.from(json),
      json.length,
    );
    db.close();
    expect(cacheStats(dir)).toMatchObject({ entries: 1, bytes: json.length });
    const cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    expect(cache.size).toBe(1);
    expect(cache.get(digest(1))).toEqual({ json, cost: 0.5 });
    await cache.close();
  });

  it("clearCache deletes it and says what it held", async () => {
    const dir = tempDir();
    const cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    cache.add(digest(1), result(1), 0);
    await cache.close();
    expect(clearCache(dir)).toMatchObject({ entries: 1 });
    expect(cacheStats(dir)).toBeUndefined();
    expect(clearCache(dir)).toBeUndefined();
  });

  it("clearCache of a file that cannot be deleted says why (EPERM), not ENOTDIR", async () => {
    const dir = tempDir();
    const cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
    cache.add(digest(1), result(1), 0);
    await cache.close();
    const file = path.join(dir, "cache.db");
    // an immutable file (root ignores permissions, not this); a file system without it: nothing to test
    if (spawnSync("chattr", ["+i", file]).status !== 0) return;
    try {
      expect(() => clearCache(dir)).toThrow(expect.objectContaining({ code: "EPERM" }));
    } finally {
      spawnSync("chattr", ["-i", file]);
    }
    expect(clearCache(dir)).toMatchObject({ entries: 1 });
  });
});
