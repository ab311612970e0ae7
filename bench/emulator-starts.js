// `node --expose-gc bench/emulator-starts.js [N]` (after pnpm build): what each in-process emulator
// start/stop leaves behind in this process's heap, over N cycles (default 200) after 20 untimed ones:
// with no request, with one request through the global fetch, and with one through the openai SDK
// (as the `emulator` provider's runs make). Node 20's fetch (undici 6) keeps one connection pool per
// origin for the process's life, and each emulator listens on a new port: a new origin each time.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const { createEmulator } = await import(
  pathToFileURL(path.join(ROOT, "packages/openai-emulator/dist/index.js")).href
);
const fromProvider = createRequire(path.join(ROOT, "packages/provider-openai/package.json"));
const OpenAI = (await import(pathToFileURL(fromProvider.resolve("openai")).href)).default;
const cycles = Number(process.argv[2] ?? 200);
if (typeof global.gc !== "function") throw new Error("run with node --expose-gc");

const requests = {
  none: async () => {},
  fetch: async (emulator) => {
    await (await fetch(`${emulator.url}/models`)).text();
  },
  "openai SDK": async (emulator) => {
    await new OpenAI({ baseURL: emulator.url, apiKey: "emulator", maxRetries: 0 }).batches.list();
  },
};

const heap = () => {
  global.gc();
  global.gc();
  return process.memoryUsage().heapUsed;
};
for (const [name, request] of Object.entries(requests)) {
  const cycle = async () => {
    const emulator = await createEmulator({ seed: 1 });
    await request(emulator);
    await emulator.close();
  };
  for (let i = 0; i < 20; i++) await cycle();
  await new Promise((resolve) => setTimeout(resolve, 200));
  const before = heap();
  for (let i = 0; i < cycles; i++) await cycle();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const grown = heap() - before;
  console.log(
    `${name.padEnd(11)} ${cycles} starts: heap +${(grown / 1024).toFixed(0)} KB, ${(grown / cycles / 1024).toFixed(1)} KB a start`,
  );
}
