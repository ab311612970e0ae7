import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { encodeShardMeta, type ShardMeta } from "../src/engine/codecs/shard-meta.js";
import { ShardMetaIndex } from "../src/engine/shard-meta-index.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function metaFile(metas: ShardMeta[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "meta-index-"));
  dirs.push(dir);
  const file = path.join(dir, "00001.meta.jsonl");
  fs.writeFileSync(
    file,
    metas.map((m) => `${encodeShardMeta({ ...m, input: JSON.stringify(m.input) })}\n`).join(""),
  );
  return file;
}

const meta = (i: number, text: string): ShardMeta => ({
  id: `rec-${i}`,
  inputTokens: i,
  outputTokens: 20,
  rootIndex: i,
  requestDigest: [i + 1, 2, 3],
  jsonOutput: i % 2 === 0,
  input: { id: `rec-${i}`, text },
  source: { file: "in.jsonl", line: i + 1 },
});

describe("ShardMetaIndex", () => {
  it("gives each request's meta line in any order: in order, backwards, shuffled, lines longer than a read", async () => {
    // multi-byte text, and lines of 100 KB among small ones
    const metas = Array.from({ length: 3000 }, (_, i) =>
      meta(i, i % 500 === 7 ? "é".repeat(50_000) : `ünïcode ${"x".repeat(i % 300)} ✓ ${i}`),
    );
    const file = metaFile(metas);
    const index = await ShardMetaIndex.load(file);
    try {
      const order = metas.map((_, i) => i);
      const shuffled = [...order].sort((a, b) => ((a * 7919) % 3001) - ((b * 7919) % 3001));
      for (const list of [order, [...order].reverse(), shuffled]) {
        for (const i of list) {
          expect(index.at(i)?.entry.meta()).toEqual(metas[i]);
          expect(index.get(`rec-${i}`)?.meta().input).toEqual(metas[i]!.input);
        }
      }
    } finally {
      index.close();
    }
  });

  it("finds results by id in order, then out of order, and lists every request once in the shard's order", async () => {
    const metas = Array.from({ length: 2000 }, (_, i) => meta(i, `text ${i}`));
    const file = metaFile(metas);
    for (const inOrder of [2000, 700, 0]) {
      const index = await ShardMetaIndex.load(file);
      try {
        for (let i = 0; i < inOrder; i++) expect(index.get(`rec-${i}`)?.meta()).toEqual(metas[i]);
        for (let i = 1999; i >= inOrder; i -= 3) expect(index.get(`rec-${i}`)?.meta()).toEqual(metas[i]);
        expect(index.get("rec-unknown")).toBeUndefined();
        expect(index.at(2000)).toBeUndefined();
        const all = [...index.entries()];
        expect(all.map(([id]) => id)).toEqual(metas.map((m) => m.id));
        expect(all.map(([, entry]) => entry.meta())).toEqual(metas);
      } finally {
        index.close();
      }
    }
  });

  it("reads each shard's own lines when one shard's buffer is reused by the next, and after close from disk", async () => {
    const big = Array.from({ length: 3000 }, (_, i) => meta(i, `big shard ${"y".repeat(i % 200)} ${i}`));
    const small = Array.from({ length: 1000 }, (_, i) => meta(i, `small shard ✓ ${i}`));
    const first = await ShardMetaIndex.load(metaFile(big));
    const entries = [0, 1500, 2999].map((i) => first.at(i)!.entry);
    first.close();
    // the next load takes the closed index's buffer; the first one's entries now read the file
    const second = await ShardMetaIndex.load(metaFile(small));
    // loaded while the second is open: a buffer of its own
    const third = await ShardMetaIndex.load(metaFile(big));
    try {
      for (let i = 999; i >= 0; i -= 7) expect(second.at(i)?.entry.meta()).toEqual(small[i]);
      for (let i = 0; i < 3000; i += 11) expect(third.get(`rec-${i}`)?.meta()).toEqual(big[i]);
      expect(entries.map((e) => e.meta())).toEqual([big[0], big[1500], big[2999]]);
    } finally {
      second.close();
      third.close();
    }
    const fourth = await ShardMetaIndex.load(metaFile(small));
    try {
      expect([...fourth.entries()].map(([, e]) => e.meta())).toEqual(small);
    } finally {
      fourth.close();
    }
  });
});
