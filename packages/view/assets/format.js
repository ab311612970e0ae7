// batchpipe view: money as the CLI and the engine write it. The page cannot import
// @batchpipe/core, so this is core's formatMoney (packages/core/src/format-money.ts) again;
// test/view-money-rule.test.ts checks that both give the same text over a wide range of values.
// No DOM here, so Node can import it.

/** "$1.20" from a cent up; under a cent two significant digits ("$0.0000084"); nothing is "$0.0000" */
export function formatMoney(n) {
  if (n >= 0.01) return `$${n.toFixed(2)}`;
  if (n <= 0) return `$${n.toFixed(4)}`;
  return `$${n.toFixed(Math.min(20, Math.max(4, 1 - Math.floor(Math.log10(n)))))}`;
}
