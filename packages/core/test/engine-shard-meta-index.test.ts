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
  fs.writeFileSync(file, metas.map((m) => `${encodeShardMeta(m)}\n`).join(""));
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
});
