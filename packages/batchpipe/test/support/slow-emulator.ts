/** A pipeline on the in-process emulator whose batch stays open while a test stops, cancels or looks at it. */
import fs from "node:fs";
import path from "node:path";
import { records, tempDir } from "./harness.js";

const SLOW = "linesPerSecond: 0.05";

/**
 * `<dir>/pipeline.yaml` (name `name`) over `n` records in data.jsonl: the emulator answers one line
 * every 20 s, so the batch is open for minutes whatever the machine's load; returns the folder
 */
export function slowEmulatorPipeline(name: string, n: number, prompt = "{{ text }}"): string {
  const dir = tempDir(`bp-${name}-`);
  fs.writeFileSync(path.join(dir, "data.jsonl"), records(n));
  fs.writeFileSync(
    path.join(dir, "pipeline.yaml"),
    [
      "version: 1",
      `name: ${name}`,
      `provider: { use: emulator, emulator: { timeScale: 1, latencies: { ${SLOW} } } }`,
      "source: { use: jsonl, path: ./data.jsonl }",
      "transform:",
      '  id: "{{ id }}"',
      `  body: { model: gpt-4o-mini, messages: [{ role: user, content: "${prompt}" }] }`,
      "batch: { poll_interval: 50ms }",
      "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
      "",
    ].join("\n"),
  );
  return dir;
}

/** the emulator of `dir`'s pipeline answers at once from now on (a resume then ends in seconds) */
export function speedUp(dir: string): void {
  const spec = path.join(dir, "pipeline.yaml");
  fs.writeFileSync(spec, fs.readFileSync(spec, "utf8").replace(SLOW, "linesPerSecond: 10000"));
}
