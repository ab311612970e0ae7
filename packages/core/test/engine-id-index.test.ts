import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { IdSet, RequestIndex } from "../src/engine/read/id-index.js";

// 300,000 entries: every partition grows several times (each starts at 64 slots)
const N = 300_000;

describe("IdSet", () => {
  it("accepts each new id once and refuses every repeat, across partition growth", () => {
    const ids = new IdSet();
    let added = 0;
    for (let i = 0; i < N; i++) if (ids.add(`rec-${i}`)) added++;
    expect(added).toBe(N);
    let repeats = 0;
    for (let i = 0; i < N; i += 7) if (!ids.add(`rec-${i}`)) repeats++;
    expect(repeats).toBe(Math.ceil(N / 7));
    expect(ids.add("rec-new")).toBe(true);
    expect(ids.add("")).toBe(true);
    expect(ids.add("")).toBe(false);
  });
});

describe("RequestIndex", () => {
  it("finds every request where it was first placed, and nothing it never saw", () => {
    const index = new RequestIndex();
    const digest = (i: number) => RequestIndex.digest("/v1/chat/completions", `{"n":${i}}`);
    for (let i = 0; i < N; i++) index.set(digest(i), Math.floor(i / 50_000), i % 50_000);
    let found = 0;
    for (let i = 0; i < N; i += 13) {
      const at = index.get(digest(i));
      if (at?.shard === Math.floor(i / 50_000) && at.index === i % 50_000) found++;
    }
    expect(found).toBe(Math.ceil(N / 13));
    expect(index.get(digest(N + 1))).toBeUndefined();
    expect(index.get(RequestIndex.digest("/v1/embeddings", '{"n":1}'))).toBeUndefined();
    // set on a known digest moves it, without a second entry
    index.set(digest(5), 99, 1);
    expect(index.get(digest(5))).toEqual({ shard: 99, index: 1 });
  });
});

// past `memoryEntries` keys a table goes to disk and starts again empty (spilled-table.ts)
describe("the tables past their memory share", () => {
  const spillDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "bp-spill-"));
  const files = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);

  it("IdSet: repeats are found in the tables on disk as in memory; close() deletes the files", () => {
    const dir = spillDir();
    const ids = new IdSet({ spillDir: dir, memoryEntries: 40_000 });
    let added = 0;
    for (let i = 0; i < N; i++) if (ids.add(`rec-${i}`)) added++;
    expect(added).toBe(N);
    // 300,000 keys at 40,000 a table: 7 tables on disk, the first 4 merged into one
    expect(files(dir)).toHaveLength(4);
    let repeats = 0;
    for (let i = 0; i < N; i += 7) if (!ids.add(`rec-${i}`)) repeats++;
    expect(repeats).toBe(Math.ceil(N / 7));
    expect(ids.add("rec-new")).toBe(true);
    expect(ids.add("rec-new")).toBe(false);
    ids.close();
    expect(files(dir)).toEqual([]);
  });

  it("RequestIndex: every request is found where it went, moved ones where they went last", () => {
    const dir = spillDir();
    const index = new RequestIndex({ spillDir: dir, memoryEntries: 40_000 });
    const digest = (i: number) => RequestIndex.digest("/v1/chat/completions", `{"n":${i}}`);
    for (let i = 0; i < N; i++) index.set(digest(i), Math.floor(i / 50_000), i % 50_000);
    expect(files(dir)).toHaveLength(4);
    let found = 0;
    for (let i = 0; i < N; i += 13) {
      const at = index.get(digest(i));
      if (at?.shard === Math.floor(i / 50_000) && at.index === i % 50_000) found++;
    }
    expect(found).toBe(Math.ceil(N / 13));
    for (let i = N; i < N + 1000; i++) expect(index.get(digest(i))).toBeUndefined();
    // a key on disk set again: the newer place wins, and it is one entry more, not a new table
    index.set(digest(5), 99, 1);
    expect(index.get(digest(5))).toEqual({ shard: 99, index: 1 });
    index.close();
    expect(files(dir)).toEqual([]);
  });

  it("files merged level upon level: few files, nothing lost, the newest place of a key wins", () => {
    const dir = spillDir();
    const index = new RequestIndex({ spillDir: dir, memoryEntries: 2_000 });
    const ids = new IdSet({ spillDir: dir, memoryEntries: 2_000 });
    const digest = (i: number) => RequestIndex.digest("/v1/embeddings", `{"input":"${i}"}`);
    for (let i = 0; i < 200_000; i++) {
      index.set(digest(i), i, 1);
      expect(ids.add(`id-${i}`)).toBe(true);
    }
    // moved after their first tables were merged twice over; then 100 more spills on top
    for (let i = 0; i < 200_000; i += 1_000) index.set(digest(i), i, 2);
    for (let i = 200_000; i < 400_000; i++) index.set(digest(i), i, 1);
    // 200 spills a table at 4 a level: at most 3 files a level, 4 levels
    const [requestFiles, idFiles] = [/^requests-/, /^ids-/].map((re) => files(dir).filter((f) => re.test(f)));
    expect(requestFiles.length).toBeLessThanOrEqual(12);
    expect(idFiles.length).toBeLessThanOrEqual(12);
    for (let i = 0; i < 400_000; i += 97) {
      const moved = i < 200_000 && i % 1_000 === 0;
      expect(index.get(digest(i))).toEqual({ shard: i, index: moved ? 2 : 1 });
    }
    for (let i = 0; i < 200_000; i += 1_000) expect(index.get(digest(i))).toEqual({ shard: i, index: 2 });
    for (let i = 0; i < 200_000; i += 89) expect(ids.add(`id-${i}`)).toBe(false);
    expect(index.get(digest(400_001))).toBeUndefined();
    index.close();
    ids.close();
    expect(files(dir)).toEqual([]);
  });

  it("without a folder to spill to, everything stays in memory", () => {
    const ids = new IdSet({ memoryEntries: 10 });
    for (let i = 0; i < 1000; i++) expect(ids.add(`x-${i}`)).toBe(true);
    for (let i = 0; i < 1000; i++) expect(ids.add(`x-${i}`)).toBe(false);
  });
});
