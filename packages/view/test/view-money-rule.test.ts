/**
 * The view's page formats money with assets/format.js, a copy of core's formatMoney (the browser
 * cannot import core): both give the same text for every value tried, from 1e-15 to 1e7 dollars,
 * around each power of ten and at the cent, so a change to one rule that misses the other fails here.
 */
import { formatMoney } from "@batchpipe/core";
import { describe, expect, it } from "vitest";

const page = (await import("../assets/format.js")) as { formatMoney: (n: number) => string };

/** deterministic "random" mantissas */
function mulberry32(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function values(): number[] {
  const random = mulberry32(7);
  const out = [0, -0, -0.5, 0.01, 0.0099999, 0.00999, 0.005, 0.001, 1e-20, 1e-25, 0.0000084, 0.0042];
  for (let exponent = -15; exponent <= 7; exponent++) {
    const power = 10 ** exponent;
    out.push(power, power * 0.9999999, power * 1.0000001);
    for (let i = 0; i < 200; i++) out.push(power * (1 + 9 * random()));
  }
  return out;
}

describe("the page's money rule", () => {
  it("writes every value as core's formatMoney does", () => {
    const all = values();
    expect(all.length).toBeGreaterThan(4000);
    const differ = all.filter((n) => page.formatMoney(n) !== formatMoney(n));
    expect(differ.map((n) => [n, page.formatMoney(n), formatMoney(n)])).toEqual([]);
    // the rule under a cent: two significant digits, not "$0.0000"
    expect(page.formatMoney(0.0000049)).toBe("$0.0000049");
    expect(page.formatMoney(0.0042)).toBe("$0.0042");
    expect(page.formatMoney(12.345)).toBe("$12.35");
  });
});
