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
