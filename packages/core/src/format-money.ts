/**
 * Money for people, one rule for every message (the CLI's reports, the engine's max_cost errors;
 * `batchpipe view`'s page carries the same rule in its assets/format.js, checked against this one):
 * "$1.20" from a cent up; under a cent two significant digits ("$0.0042", "$0.0000084"), so 50
 * embeddings are not "$0.0000"; nothing spent is "$0.0000".
 */
export function formatMoney(n: number): string {
  if (n >= 0.01) return `$${n.toFixed(2)}`;
  if (n <= 0) return `$${n.toFixed(4)}`;
  return `$${n.toFixed(Math.min(20, Math.max(4, 1 - Math.floor(Math.log10(n)))))}`;
}
