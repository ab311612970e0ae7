// The CLI registers every official plugin for every command; a plugin's SDK or parser must load
// when a run uses it, not at start-up (the Anthropic SDK alone was 1,218 modules, ~0.4 s).
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CLI_BIN, runNode, tempDir } from "./support/harness.js";

describe("CLI start-up", () => {
  it("loads no provider SDK for a command that does not talk to a provider", async () => {
    const dir = tempDir();
    // a resolve hook that lists every package the process loads
    const hook = path.join(dir, "hook.mjs");
    fs.writeFileSync(
      hook,
      `export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  const m = r.url.match(/node_modules\\/\\.pnpm\\/((?:@[^+/]+\\+)?[^@/]+)@/);
  if (m) process.stderr.write("LOADED " + m[1].replace("+", "/") + "\\n");
  return r;
}
`,
    );
    const register = path.join(dir, "register.mjs");
    fs.writeFileSync(
      register,
      `import { register } from "node:module";\nregister(${JSON.stringify(`file://${hook}`)});\n`,
    );
    const run = await runNode(["--import", register, CLI_BIN, "--help"]);
    expect(run.code).toBe(0);
    const loaded = new Set([...run.stderr.matchAll(/^LOADED (.+)$/gm)].map((m) => m[1]));
    // the hook sees the process's packages (the test would pass vacuously if it saw none)
    expect(loaded.has("zod")).toBe(true);
    expect([...loaded].filter((name) => /openai$|anthropic-ai|^pg$/.test(name))).toEqual([]);
  });
});
