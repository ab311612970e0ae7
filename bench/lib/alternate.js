// The driver of the benchmarks that compare checkouts (read-phase.js, collect.js): `script --measure
// ROOT INPUT` in a child process per run, for this checkout and `--against DIR` in turn, K times.
import { execFileSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { ensureInput } from "./data.js";
import { median } from "./measure.js";

/** parses [N] [--against DIR] [--runs K]; returns each root's figures, printing them as they come */
export async function alternate(script, args, { root, defaultN, what, summary }) {
  const flag = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const n = Number(args.find((a) => /^\d+$/.test(a)) ?? defaultN);
  const runs = Number(flag("--runs") ?? 1);
  const roots = [root, flag("--against")].filter(Boolean).map((r) => path.resolve(r));
  const input = await ensureInput(n);
  const results = new Map(roots.map((r) => [r, []]));
  for (let i = 0; i < runs; i++) {
    for (const r of roots) {
      const out = execFileSync(process.execPath, [script, "--measure", r, input], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
      });
      const figures = JSON.parse(out.trim().split("\n").pop());
      results.get(r).push(figures);
      console.log(`${r}: ${JSON.stringify(figures)}`);
    }
  }
  console.log(`\n${what}, ${n.toLocaleString("en-US")} records, median of ${runs}`);
  for (const [r, list] of results) console.log(`${r}: ${summary((key) => median(list.map((f) => f[key])))}`);
  console.log(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")} on ${os.availableParallelism()} cores`,
  );
}
