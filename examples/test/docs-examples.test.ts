// The docs' runnable examples: they run, and the docs quote them verbatim.
import fs from "node:fs";
import path from "node:path";
import { testSink } from "@batchpipe/core/testing";
import { describe, expect, it, test } from "vitest";
import {
  batchpipe,
  checkExactlyOnce,
  ROOT,
  readJsonl,
  runNode,
  tempDir,
} from "../../packages/batchpipe/test/support/harness.js";
import csvSink from "../writing-plugins/plugins/csv-sink.ts";

const EXAMPLES = path.join(ROOT, "examples");
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");

describe("docs quote their examples verbatim", () => {
  it.each([
    ["docs/writing-plugins.md", "examples/writing-plugins/plugins/csv-sink.ts"],
    ["docs/writing-plugins.md", "examples/writing-plugins/pipeline.yaml"],
    ["docs/programmatic-api.md", "examples/programmatic/run.mjs"],
    ["docs/programmatic-api.md", "examples/programmatic/run-spec.mjs"],
  ])("%s holds %s", (doc, file) => {
    expect(read(doc)).toContain(read(file));
  });
});

/** a CSV file of the example sink → rows (fields quoted RFC 4180 style; no raw newlines) */
function readCsv(file: string): { id: string; [column: string]: string }[] {
  const lines = fs.readFileSync(file, "utf8").split("\n").filter(Boolean);
  const parse = (line: string) => {
    const fields: string[] = [];
    let i = 0;
    while (i <= line.length) {
      if (line[i] === '"') {
        let value = "";
        i++;
        while (i < line.length) {
          if (line[i] === '"' && line[i + 1] === '"') {
            value += '"';
            i += 2;
          } else if (line[i] === '"') {
            i++;
            break;
          } else value += line[i++];
        }
        fields.push(value);
        i++;
      } else {
        const end = line.indexOf(",", i);
        fields.push(line.slice(i, end === -1 ? line.length : end));
        i = end === -1 ? line.length + 1 : end + 1;
      }
    }
    return fields;
  };
  const [header, ...rows] = lines.map(parse);
  return rows.map((fields) => ({
    id: "",
    ...Object.fromEntries(header!.map((h, k) => [h, fields[k] ?? ""])),
  }));
}

/** the ```ts blocks of a doc */
function tsSnippets(doc: string): string[] {
  return [...read(doc).matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

describe("docs/writing-plugins.md: its TypeScript snippets type-check as written (strict, NodeNext)", () => {
  // the snippets' imports resolve as in a plugin's own project; `readCsv` is left to the reader
  it.each([
    [
      "the testSink snippet",
      "testSink(",
      "declare function readCsv(file: string): { id: string; status: string }[];\n",
    ],
    ["the defineTransform example", "export default defineTransform(", ""],
    ["the testProvider snippet", "testProvider(echo", ""],
  ])(
    "%s",
    async (_name, marker, declarations) => {
      const snippet = tsSnippets("docs/writing-plugins.md").find((code) => code.includes(marker));
      expect(snippet).toBeDefined();
      const dir = tempDir("bp-docs-snippet-");
      fs.mkdirSync(path.join(dir, "node_modules/@batchpipe"), { recursive: true });
      fs.symlinkSync(path.join(ROOT, "packages/core"), path.join(dir, "node_modules/@batchpipe/core"));
      fs.symlinkSync(path.join(ROOT, "node_modules/vitest"), path.join(dir, "node_modules/vitest"));
      fs.writeFileSync(path.join(dir, "package.json"), '{ "type": "module" }\n');
      fs.mkdirSync(path.join(dir, "plugins"));
      fs.copyFileSync(
        path.join(EXAMPLES, "writing-plugins/plugins/csv-sink.ts"),
        path.join(dir, "plugins/csv-sink.ts"),
      );
      fs.cpSync(path.join(EXAMPLES, "writing-plugins/providers"), path.join(dir, "providers"), {
        recursive: true,
      });
      fs.writeFileSync(path.join(dir, "snippet.ts"), `${snippet}${declarations}`);
      const tsc = path.join(ROOT, "node_modules/typescript/bin/tsc");
      const flags = ["--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext"];
      flags.push("--target", "es2022", "--allowImportingTsExtensions", "--skipLibCheck", "--types", "node");
      flags.push("--typeRoots", path.join(ROOT, "node_modules/@types"));
      const result = await runNode([tsc, ...flags, "snippet.ts"], { cwd: dir });
      expect(result.stdout + result.stderr).toBe("");
      expect(result.code).toBe(0);
    },
    90_000,
  );
});

describe("docs/programmatic-api.md: its TypeScript snippets type-check as written", () => {
  // as in an app that depends on `batchpipe` alone, with the flags strict projects add
  it("every ts block, under --strict --noImplicitOverride --exactOptionalPropertyTypes", async () => {
    const snippets = tsSnippets("docs/programmatic-api.md");
    expect(snippets.length).toBeGreaterThanOrEqual(5);
    const dir = tempDir("bp-docs-api-snippets-");
    fs.mkdirSync(path.join(dir, "node_modules"), { recursive: true });
    fs.symlinkSync(path.join(ROOT, "packages/batchpipe"), path.join(dir, "node_modules/batchpipe"));
    fs.writeFileSync(path.join(dir, "package.json"), '{ "type": "module" }\n');
    const files = snippets.map((code, i) => {
      fs.writeFileSync(path.join(dir, `snippet${i + 1}.ts`), code);
      return `snippet${i + 1}.ts`;
    });
    const tsc = path.join(ROOT, "node_modules/typescript/bin/tsc");
    const flags = ["--noEmit", "--strict", "--noImplicitOverride", "--exactOptionalPropertyTypes"];
    flags.push("--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022");
    flags.push("--skipLibCheck", "--types", "node", "--typeRoots", path.join(ROOT, "node_modules/@types"));
    const result = await runNode([tsc, ...flags, ...files], { cwd: dir });
    expect(result.stdout + result.stderr).toBe("");
    expect(result.code).toBe(0);
  }, 90_000);
});

describe("examples/writing-plugins: the CSV sink", () => {
  // as docs/writing-plugins.md writes it: `options` is the sink's parsed options, inferred from the plugin
  for (const check of testSink(csvSink, {
    makeOptions: (dir) => ({ path: `${dir}/out.csv`, columns: ["id", "status"] }),
    readBack: (options) => readCsv(options.path), // → [{ id, status }, …]
    invalidOptions: [{ options: { path: "x.csv", columns: [] }, path: ["columns"] }],
  }))
    test(check.name, check.run);

  it("runs in the example pipeline (loaded from a .ts path with jiti)", async () => {
    const dir = path.join(EXAMPLES, "writing-plugins");
    const result = await batchpipe(["run", "pipeline.yaml", "--force", "--state-dir", tempDir()], {
      cwd: dir,
    });
    expect(result.stderr).not.toContain("✖");
    expect(result.code).toBe(0);
    const rows = readCsv(path.join(dir, "out/results.csv"));
    const ids = fs
      .readFileSync(path.join(dir, "data.jsonl"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { id: string }).id);
    expect(
      checkExactlyOnce(
        rows.map((r) => r.id!),
        ids,
      ),
    ).toEqual({ missing: [], duplicated: [], extra: [] });
    expect(rows[0]).toMatchObject({ status: "success" });
    expect(rows.find((r) => r.id === "review-003")).toMatchObject({ line: "3" });
  });
});

describe("examples/programmatic/run-spec.mjs and examples/watch-folder", () => {
  it("runSpec runs a spec object with inline plugins", async () => {
    const result = await runNode([path.join(EXAMPLES, "programmatic/run-spec.mjs")], { cwd: EXAMPLES });
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain("completed: 5 answers");
    expect(result.stdout).toContain("q3: What is 3 + 3?");
    expect(readJsonl(path.join(EXAMPLES, "programmatic/out/inline.jsonl"))).toHaveLength(5);
  });

  it("watch-folder --once processes both inbox files into one run", async () => {
    const dir = tempDir("bp-watch-example-");
    fs.cpSync(path.join(EXAMPLES, "watch-folder/pipeline.yaml"), path.join(dir, "pipeline.yaml"));
    fs.cpSync(path.join(EXAMPLES, "watch-folder/inbox"), path.join(dir, "inbox"), { recursive: true });
    const result = await batchpipe(["watch", "pipeline.yaml", "--once", "--settle", "100ms"], {
      cwd: dir,
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("2 file(s) in 1 run(s): 12 succeeded, 0 failed");
    const rows = readJsonl<{ source: { file: string } }>(path.join(dir, "out/results.jsonl"));
    expect(new Set(rows.map((r) => path.basename(r.source.file)))).toEqual(
      new Set(["reviews-001.jsonl", "reviews-002.jsonl"]),
    );
  });
});
