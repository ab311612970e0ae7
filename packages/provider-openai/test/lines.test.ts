import { describe, expect, it } from "vitest";
import { boundedLines } from "../src/lines.js";

async function lines(chunks: string[], max: number) {
  const out = [];
  for await (const line of boundedLines(
    (async function* () {
      for (const c of chunks) yield Buffer.from(c);
    })(),
    max,
  ))
    out.push(line);
  return out;
}

describe("boundedLines", () => {
  it("splits across chunks (multi-byte characters too), drops \\r, keeps a last line without newline", async () => {
    const euro = Buffer.from("€");
    expect(await lines(["a\r\nb", "c\n", "", "d"], 10)).toEqual([
      { text: "a" },
      { text: "bc" },
      { text: "d" },
    ]);
    const out = [];
    for await (const line of boundedLines(
      (async function* () {
        yield Buffer.concat([Buffer.from("x"), euro.subarray(0, 2)]);
        yield Buffer.concat([euro.subarray(2), Buffer.from("\n")]);
      })(),
      10,
    ))
      out.push(line);
    expect(out).toEqual([{ text: "x€" }]);
  });

  it("a line over the cap is skipped with its length, never held; the next line comes through", async () => {
    expect(await lines(["ok\n", "x".repeat(6), "x".repeat(6), "\nfine\n"], 8)).toEqual([
      { text: "ok" },
      { tooLong: 12 },
      { text: "fine" },
    ]);
    // an endless last line
    expect(await lines(["y".repeat(20)], 8)).toEqual([{ tooLong: 20 }]);
  });
});
