// libpq's sslrootcert=system (PostgreSQL 16, managed services' connection strings): the trusted CAs
// of the system verify the server, in verify-full. pg read it as a file named "system" and the run
// failed ("the sink's url names a file pg cannot read"). A real PostgreSQL with TLS on and a
// certificate for 127.0.0.1 made here (openssl); Node trusts it through NODE_EXTRA_CA_CERTS, as an
// organisation's CA is added to a machine.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  report,
  startEmulatorProcess,
  tempDir,
  writeDataset,
  writePipeline,
} from "../../batchpipe/test/support/harness.js";
import { startPostgres, URL_REF } from "./support/postgres-server.mjs";

let server: Awaited<ReturnType<typeof startPostgres>>;
let emulator: EmulatorProcess;
let cert: string;

beforeAll(async () => {
  const dir = tempDir("bp-pg-system-root-");
  cert = path.join(dir, "server.crt");
  const key = path.join(dir, "server.key");
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
      ...["-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
      ...["-keyout", key, "-out", cert],
    ],
    { stdio: "pipe" },
  );
  [server, emulator] = await Promise.all([startPostgres({ ssl: { cert, key } }), startEmulatorProcess()]);
});
afterAll(async () => {
  await Promise.all([server?.stop(), emulator?.close()]);
});

async function run(args: string[], url: string, env: Record<string, string> = {}) {
  const dir = tempDir("bp-pg-system-root-run-");
  writeDataset(dir, 5);
  const spec = writePipeline(dir, {
    baseUrl: emulator.url,
    name: "pg-system-root",
    sinks: [`- { use: postgres, ${URL_REF} }`],
  });
  return batchpipe([...args, spec, ...(args[0] === "run" ? ["--json"] : [])], {
    cwd: dir,
    env: { DATABASE_URL: url, ...env },
  });
}

describe("sink-postgres: sslrootcert=system", () => {
  it("verifies the server against the trusted CAs, as verify-full (sslmode left out or given)", async () => {
    const base = server.url();
    for (const query of ["?sslrootcert=system", "?sslmode=verify-full&sslrootcert=system"]) {
      const trusted = await run(["run"], `${base}${query}`, { NODE_EXTRA_CA_CERTS: cert });
      expect(trusted.code, trusted.stderr).toBe(0);
      expect(report(trusted)).toMatchObject({ succeeded: 5, failed: 0 });
    }

    // the certificate is not trusted without its CA: verified, and refused
    const untrusted = await run(["run"], `${base}?sslrootcert=system`);
    expect(untrusted.code).toBe(1);
    const error = untrusted.events.find((e) => e.type === "error")!;
    expect(error.message).toMatch(/self-signed certificate/);
    expect(error.message).not.toMatch(/cannot read/);
  }, 120_000);

  it("a weaker sslmode with it is refused at the url's line, as libpq refuses it", async () => {
    const base = server.url();
    const validate = await run(["validate"], `${base}?sslmode=require&sslrootcert=system`);
    expect(validate.code).toBe(2);
    expect(validate.stderr).toContain("sslrootcert=system needs sslmode=verify-full (sslmode=require)");
  }, 60_000);
});
