// The source plugins' benchmarks (bench/plugins-source-*.js): generate the input once into
// bench/.data/, then read it whole through the plugin in a fresh process (so generation does not
// count towards peak RSS) and print time, records/s (per wall and per CPU second), MB/s and peak RSS.
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";

/** the bench's positional arguments (without the `--measure` its measuring child gets) */
export const benchArgs = process.argv.slice(2).filter((arg) => arg !== "--measure");

/**
 * @param {{ script: string, file: string, generate: () => void | Promise<void>, plugin: string,
 *   options: Record<string, unknown>, targetRate?: number, onRecord?: (data: Record<string, unknown>) => void }} o
 *   script: the bench's import.meta.url; plugin: the package folder, e.g. "source-csv"
 */
export async function benchSource(o) {
  if (process.argv.includes("--measure")) return measure(o);
  if (!existsSync(o.file)) await o.generate();
  execFileSync(process.execPath, [fileURLToPath(o.script), ...benchArgs, "--measure"], {
    stdio: "inherit",
  });
}

async function measure(o) {
  const { default: source } = await import(`../../packages/${o.plugin}/dist/index.js`);
  const bytes = statSync(o.file).size;
  const started = performance.now();
  const cpu = process.cpuUsage();
  let records = 0;
  let invalid = 0;
  const ctx = {
    options: source.options.parse({ path: o.file, ...o.options }),
    resolvePath: (p) => p,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    signal: new AbortController().signal,
    checkpoint: undefined,
  };
  for await (const item of source.read(ctx)) {
    if ("invalid" in item) invalid++;
    else {
      records++;
      o.onRecord?.(item.data);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  const rate = records / seconds;
  const target = o.targetRate
    ? ` (target >= ${o.targetRate.toLocaleString("en-US")}) ${rate >= o.targetRate ? "OK" : "MISSED"}`
    : "";
  console.log(
    [
      `${o.plugin}: ${(bytes / 1e6).toFixed(0)} MB, ${records} records (${invalid} invalid)`,
      `  time        ${seconds.toFixed(2)} s, CPU ${cpuSeconds.toFixed(2)} s`,
      `  records/s   ${Math.round(rate).toLocaleString("en-US")} (per CPU-s: ${Math.round(records / cpuSeconds).toLocaleString("en-US")})${target}`,
      `  MB/s        ${(bytes / 1e6 / seconds).toFixed(0)}`,
      `  peak RSS    ${peakRssMb.toFixed(0)} MB (target < 150 MB) ${peakRssMb < 150 ? "OK" : "MISSED"}`,
      `  load average ${os
        .loadavg()
        .map((n) => n.toFixed(1))
        .join(" ")} on ${os.availableParallelism()} cores`,
    ].join("\n"),
  );
}
