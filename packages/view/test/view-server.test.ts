/**
 * The viewer's server over real runs (the emulator over loopback HTTP, the real CLI): read-only
 * methods, loopback-only Host, the access token off loopback, paging and searching the records, and
 * which run a jsonl sink's records belong to.
 */
import path from "node:path";
import { loadPipeline } from "@batchpipe/core";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cli,
  officialPlugins,
  startEmulator,
  tempDir,
  writeDataset,
  writePipeline,
} from "../../batchpipe/test/support/harness.js";
import { startViewServer, type ViewServer } from "../src/index.js";

let emulator: Emulator;
let dir: string;
let spec: string;
const servers: ViewServer[] = [];

beforeAll(async () => {
  emulator = await startEmulator();
  dir = tempDir("bp-view-server-");
  writeDataset(dir, 120, { text: (i) => (i === 77 ? 'She said "Hello World" twice' : `review ${i}`) });
  spec = writePipeline(dir, { baseUrl: emulator.url, batch: { max_requests: 50 } });
  const run = await cli(["run", spec], { env: { OPENAI_API_KEY: "sk-test" } });
  expect(run.code).toBe(0);
});

afterAll(async () => {
  for (const server of servers) await server.close();
  await emulator?.close();
});

async function serve(options: { host?: string } = {}): Promise<ViewServer> {
  const pipeline = await loadPipeline(spec, {
    env: { OPENAI_API_KEY: "sk-test" },
    builtins: officialPlugins,
  });
  const server = await startViewServer({ pipelines: [{ pipeline }], ...options });
  servers.push(server);
  return server;
}

async function get(server: ViewServer, route: string, init: RequestInit = {}) {
  const url = new URL(route, server.url);
  const token = new URL(server.url).searchParams.get("token");
  if (token && !url.searchParams.has("token")) url.searchParams.set("token", token);
  return fetch(url, init);
}

async function records(server: ViewServer, params: Record<string, string>) {
  const runs = (await (await get(server, "/api/runs")).json()) as {
    pipelines: { key: string; runs: { id: string }[] }[];
  };
  const { key } = runs.pipelines[0]!;
  const run = runs.pipelines[0]!.runs[0]!.id;
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query = new URLSearchParams({ pipeline: key, run, ...params, ...(cursor ? { cursor } : {}) });
    const page = (await (await get(server, `/api/records?${query}`)).json()) as {
      rows: { id: string }[];
      next: string | null;
    };
    ids.push(...page.rows.map((r) => r.id));
    cursor = page.next;
    pages++;
  } while (cursor);
  return { ids, pages };
}

describe("the viewer's server", () => {
  it("pages through every record once, and finds text in any case and with quotes", async () => {
    const server = await serve();
    const all = await records(server, {});
    expect(all.ids).toHaveLength(120);
    expect(new Set(all.ids).size).toBe(120);
    expect(all.pages).toBe(3);
    expect((await records(server, { q: "HELLO world" })).ids).toEqual(["rec-77"]);
    expect((await records(server, { q: '"Hello World"' })).ids).toEqual(["rec-77"]);
    expect((await records(server, { q: "rec-12" })).ids.sort()).toEqual(["rec-12", "rec-120"]);
    expect((await records(server, { status: "failed" })).ids).toEqual([]);
  });

  it("refuses every method but GET and HEAD", async () => {
    const server = await serve();
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      for (const route of ["/", "/api/runs", "/api/records"]) {
        const res = await get(server, route, { method });
        expect(res.status).toBe(405);
        expect(res.headers.get("allow")).toBe("GET, HEAD");
      }
    }
  });

  it("on loopback, answers only requests addressed to loopback (no DNS rebinding)", async () => {
    const server = await serve();
    expect(new URL(server.url).hostname).toBe("127.0.0.1");
    expect(new URL(server.url).searchParams.has("token")).toBe(false);
    const { status } = await new Promise<{ status: number }>((resolve, reject) => {
      // fetch does not let a caller set Host: a raw request does
      import("node:http").then(({ request }) => {
        const req = request(
          {
            host: "127.0.0.1",
            port: server.port,
            path: "/api/runs",
            headers: { host: `evil.example:${server.port}` },
          },
          (res) => resolve({ status: res.statusCode ?? 0 }),
        );
        req.on("error", reject);
        req.end();
      });
    });
    expect(status).toBe(403);
    expect((await get(server, "/api/runs")).status).toBe(200);
    expect((await fetch(`http://localhost:${server.port}/`)).status).toBe(200);
  });

  it("off loopback, requires the random access token on every request", async () => {
    const server = await serve({ host: "0.0.0.0" });
    const token = new URL(server.url).searchParams.get("token");
    expect(token).toMatch(/^[0-9a-f]{48}$/);
    const base = `http://127.0.0.1:${server.port}`;
    for (const route of ["/", "/app.js", "/dom.js", "/style.css", "/api/runs"]) {
      expect((await fetch(`${base}${route}`)).status).toBe(403);
      expect((await fetch(`${base}${route}?token=${"0".repeat(48)}`)).status).toBe(403);
      expect((await fetch(`${base}${route}?token=${token}`)).status).toBe(200);
    }
    // the page passes the token on to its script and stylesheet, and in a cookie to the script's imports
    const page = await fetch(`${base}/?token=${token}`);
    expect(await page.text()).toContain(`app.js?token=${token}`);
    const cookie = page.headers.get("set-cookie")!.split(";")[0]!;
    expect(cookie).toBe(`batchpipe_view_${server.port}=${token}`);
    expect((await fetch(`${base}/dom.js`, { headers: { cookie } })).status).toBe(200);
    const wrong = `batchpipe_view_${server.port}=${"0".repeat(48)}`;
    expect((await fetch(`${base}/dom.js`, { headers: { cookie: wrong } })).status).toBe(403);
  });

  it("sends a Content-Security-Policy that allows no inline script", async () => {
    const server = await serve();
    const csp = (await get(server, "/")).headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
  });

  it("batchpipe view refuses a missing spec and a bad port (exit 2)", async () => {
    const missing = await cli(["view", path.join(dir, "missing.yaml")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("does not exist");
    const port = await cli(["view", spec, "--port", "http"], { env: { OPENAI_API_KEY: "sk-test" } });
    expect(port.code).toBe(2);
    expect(port.stderr).toContain("--port expects a port number");
  });

  it("says when a newer run has replaced a run's records in the jsonl sink", async () => {
    const again = await cli(["run", spec, "--force"], { env: { OPENAI_API_KEY: "sk-test" } });
    expect(again.code).toBe(0);
    const server = await serve();
    const runs = (await (await get(server, "/api/runs")).json()) as {
      pipelines: { key: string; runs: { id: string }[] }[];
    };
    const [newer, older] = runs.pipelines[0]!.runs;
    const { key } = runs.pipelines[0]!;
    const page = async (run: string) =>
      (await (await get(server, `/api/records?pipeline=${key}&run=${run}`)).json()) as {
        rows: unknown[];
        note: string | null;
      };
    expect((await page(newer!.id)).rows).toHaveLength(50);
    const old = await page(older!.id);
    expect(old.rows).toEqual([]);
    expect(old.note).toContain(`${path.basename("results.jsonl")} now holds the records of run ${newer!.id}`);

    // the same dataset again (issue 17): answered from the result cache, a run of its own that
    // writes the sink afresh, so the run before it is the one replaced now
    expect((await cli(["run", spec], { env: { OPENAI_API_KEY: "sk-test" } })).code).toBe(0);
    const after = (await (await get(server, "/api/runs")).json()) as {
      pipelines: { runs: { id: string; status: string }[] }[];
    };
    const cached = after.pipelines[0]!.runs[0]!;
    expect(cached.status).toBe("done");
    expect((await page(cached.id)).rows).toHaveLength(50);
    expect((await page(newer!.id)).note).toContain(`now holds the records of run ${cached.id}`);
  });
});
