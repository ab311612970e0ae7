/**
 * Calibration of the fast count against the exact one, kind by kind of text (fast-count.ts,
 * TEXT_KINDS). A single factor measured on a sample scaled every later request alike: after a sample
 * of English (where the fast count runs ~1.13× the exact one, so the factor was ~0.89), Thai came
 * out ~20 % under its real count and base64 ~28 % under. Here each kind gets its own factor, fitted
 * on the sample (least squares: exact text tokens ≈ Σ factor × fast tokens of the kind), pulled
 * towards 1, the fast count's own rate, which errs high for every kind: a kind the sample did not
 * hold keeps it, and one it held little stays near it.
 */
import { TEXT_KINDS } from "./fast-count.js";

/** sums over the sample's requests: Σ x·xᵀ (row by row) and Σ x·y, x the fast tokens by kind, y the exact text tokens */
export interface KindStats {
  xx: number[];
  xy: number[];
}

export function emptyKindStats(): KindStats {
  return { xx: new Array(TEXT_KINDS * TEXT_KINDS).fill(0), xy: new Array(TEXT_KINDS).fill(0) };
}

/** add a sampled request: its fast tokens by kind, and the exact count of the same text */
export function addKindSample(stats: KindStats, kinds: Float64Array, exact: number): void {
  const { xx, xy } = stats;
  for (let a = 0; a < TEXT_KINDS; a++) {
    const x = kinds[a]!;
    if (x === 0) continue;
    xy[a]! += x * exact;
    for (let b = 0; b < TEXT_KINDS; b++) xx[a * TEXT_KINDS + b]! += x * kinds[b]!;
  }
}

/**
 * The factor of each kind: the least-squares fit with a pull of PRIOR_WEIGHT × the sample's total
 * (Σ x²) towards 1 for each, clamped to MIN_FACTOR–MAX_FACTOR.
 */
export function kindFactors(stats: KindStats, floor = 0): Float64Array {
  const n = TEXT_KINDS;
  const factors = new Float64Array(n).fill(1);
  let trace = 0;
  for (let a = 0; a < n; a++) trace += stats.xx[a * n + a]!;
  if (!(trace > 0)) return factors;
  const prior = PRIOR_WEIGHT * trace;
  // (XᵀX + prior·I) f = Xᵀy + prior·1, by Gaussian elimination with partial pivoting
  const m: number[][] = [];
  for (let a = 0; a < n; a++) {
    const row = stats.xx.slice(a * n, a * n + n);
    row[a]! += prior;
    row.push(stats.xy[a]! + prior);
    m.push(row);
  }
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r;
    [m[col], m[pivot]] = [m[pivot]!, m[col]!];
    const p = m[col]![col]!;
    for (let r = col + 1; r < n; r++) {
      const f = m[r]![col]! / p;
      if (f === 0) continue;
      for (let c = col; c <= n; c++) m[r]![c]! -= f * m[col]![c]!;
    }
  }
  const fit = new Float64Array(n);
  for (let a = n - 1; a >= 0; a--) {
    let s = m[a]![n]!;
    for (let c = a + 1; c < n; c++) s -= m[a]![c]! * fit[c]!;
    fit[a] = s / m[a]![a]!;
  }
  for (let a = 0; a < n; a++) {
    const f = fit[a]!;
    factors[a] = Number.isFinite(f) ? Math.min(MAX_FACTOR, Math.max(MIN_FACTOR, floor, f)) : 1;
  }
  return factors;
}

/** Σ factor × fast tokens of the kind */
export function scaleKinds(kinds: Float64Array, factors: Float64Array): number {
  let total = 0;
  for (let a = 0; a < TEXT_KINDS; a++) total += kinds[a]! * factors[a]!;
  return total;
}

/** the pull towards 1, as a share of the sample's Σ x² (a kind with ~10 % of the sample's tokens gets about half its own ratio) */
const PRIOR_WEIGHT = 0.01;
const MIN_FACTOR = 0.5;
const MAX_FACTOR = 2;
