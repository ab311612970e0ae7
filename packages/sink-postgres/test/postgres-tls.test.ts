// sink-postgres's sslmode against a real PostgreSQL with TLS on and a self-signed certificate made
// here (openssl), through the real CLI and the sink's open: libpq's meanings (require encrypts
// without verifying, verify-ca checks the chain, verify-full the chain and the host name). Before,
// pg read require as verify-full: the README's own `?sslmode=require` failed against this server
// (DEPTH_ZERO_SELF_SIGNED_CERT), and pg-connection-string printed a SECURITY WARNING on stderr.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { createTestContext } from "@batchpipe/core/testing";
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
import sink from "../src/index.js";
import { startPostgres, URL_REF } from "./support/postgres-server.mjs";

/** the name in the certificate: not the 127.0.0.1 the tests connect to */
const CERT_HOST = "db.example";

let tls: Awaited<ReturnType<typeof startPostgres>>;
let plain: Awaited<ReturnType<typeof startPostgres>>;
let emulator: EmulatorProcess;
let rootCert: string;
/** what reached process.emitWarning in this process */
const warnings: string[] = [];
const onWarning = (warning: Error) => warnings.push(warning.message);

beforeAll(async () => {
  const dir = tempDir("bp-pg-tls-");
  rootCert = path.join(dir, "server.crt");
  const key = path.join(dir, "server.key");
  // self-signed: it is its own CA, for sslrootcert
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
      ...["-days", "2", "-subj", `/CN=${CERT_HOST}`, "-addext", `subjectAltName=DNS:${CERT_HOST}`],
      ...["-keyout", key, "-out", rootCert],
    ],
    { stdio: "pipe" },
  );
  [tls, plain, emulator] = await Promise.all([
    startPostgres({ ssl: { cert: rootCert, key } }),
    startPostgres(),
    startEmulatorProcess(),
  ]);
  process.on("warning", onWarning);
});
afterAll(async () => {
  process.off("warning", onWarning);
  await Promise.all([tls?.stop(), plain?.stop(), emulator?.close()]);
});

async function run(url: string, env: Record<string, string> = {}) {
  const dir = tempDir("bp-pg-tls-run-");
  writeDataset(dir, 5);
  const spec = writePipeline(dir, {
    baseUrl: emulator.url,
    name: "pg-tls",
    sinks: [`- { use: postgres, ${URL_REF} }`],
  });
  return batchpipe(["run", spec, "--json"], { cwd: dir, env: { DATABASE_URL: url, ...env } });
}

/** opens the sink on `url`: whether its session uses TLS, asked of the server */
async function openAndAsk(server: typeof tls, url: string): Promise<boolean> {
  const handle = await sink.open({
    ...createTestContext("/tmp", sink.options.parse({ url, table: "probe" })),
    checkpoint: undefined,
  });
  try {
    const rows = await server.query(
      "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'batchpipe'",
    );
    expect(rows).toHaveLength(1);
    return rows[0].ssl;
  } finally {
    await handle.close();
  }
}

async function openError(url: string) {
  try {
    await sink.open({
      ...createTestContext("/tmp", sink.options.parse({ url, table: "probe" })),
      checkpoint: undefined,
    });
  } catch (error) {
    return error as { code: string; message: string; hint: string };
  }
  throw new Error(`open succeeded on ${url}`);
}

describe("sink-postgres: sslmode as libpq reads it", () => {
  it("require encrypts without verifying: a run writes every row, with no warning on stderr", async () => {
    const result = await run(`${tls.url()}?sslmode=require`);
    expect(result.code, result.stderr).toBe(0);
    expect(report(result)).toMatchObject({ succeeded: 5, failed: 0 });
    expect(await tls.query("SELECT count(*)::int AS n FROM results")).toEqual([{ n: 5 }]);
    expect(result.stderr).not.toMatch(/warning/i);
    expect(await openAndAsk(tls, `${tls.url()}?sslmode=require`)).toBe(true);
  }, 120_000);

  it("PGSSLMODE=require, with no sslmode in the url, means require too (pg read it as verify-full)", async () => {
    await tls.query("DROP TABLE IF EXISTS results");
    const result = await run(tls.url(), { PGSSLMODE: "require" });
    expect(result.code, result.stderr).toBe(0);
    expect(await tls.query("SELECT count(*)::int AS n FROM results")).toEqual([{ n: 5 }]);
    expect(result.stderr).not.toMatch(/warning/i);
  }, 120_000);

  it("verify-full refuses the self-signed certificate and says what to do, with no warning", async () => {
    const result = await run(`${tls.url()}?sslmode=verify-full`);
    expect(result.code, result.stderr).toBe(1);
    const error = result.events.find((e) => e.type === "error")!;
    expect(error.code).toBe("PLUGIN_FAILED");
    expect(error.message).toContain("self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)");
    expect(error.hint).toMatchInlineSnapshot(
      `"The server's certificate could not be verified (sslmode=verify-full checks it against this machine's trusted CAs, or the url's sslrootcert): give the certificate of the CA that signed it as sslrootcert=/path/to/root.crt in the url, or use sslmode=require to encrypt without verifying the server."`,
    );
    expect(result.stderr).not.toMatch(/warning/i);
  }, 120_000);

  it("verify-ca checks the chain against sslrootcert but not the host name; verify-full checks both", async () => {
    expect(await openAndAsk(tls, `${tls.url()}?sslmode=verify-ca&sslrootcert=${rootCert}`)).toBe(true);
    const error = await openError(`${tls.url()}?sslmode=verify-full&sslrootcert=${rootCert}`);
    expect(error.code).toBe("PLUGIN_FAILED");
    expect(error.message).toContain("ERR_TLS_CERT_ALTNAME_INVALID");
    expect(error.hint).toMatchInlineSnapshot(
      `"The server's certificate does not name the host the url connects to (sslmode=verify-full checks it): connect by a name the certificate holds, or use sslmode=verify-ca to check the certificate but not the host name."`,
    );
    // an sslrootcert that is not there: named, with what to do
    const missing = await openError(`${tls.url()}?sslmode=verify-ca&sslrootcert=/nonexistent/root.crt`);
    expect([missing.code, missing.message, missing.hint]).toMatchInlineSnapshot(`
      [
        "PLUGIN_FAILED",
        "the sink's url names a file pg cannot read: ENOENT: no such file or directory, open '/nonexistent/root.crt' (ENOENT)",
        "Check the paths of sslrootcert, sslcert and sslkey in the url (relative ones are read from the working directory).",
      ]
    `);
  }, 60_000);

  it("prefer falls back to a plain connection on a server without TLS; disable never uses TLS", async () => {
    expect(await openAndAsk(plain, `${plain.url()}?sslmode=prefer`)).toBe(false);
    expect(await openAndAsk(tls, `${tls.url()}?sslmode=prefer`)).toBe(true);
    expect(await openAndAsk(tls, `${tls.url()}?sslmode=disable`)).toBe(false);
    const error = await openError(`${plain.url()}?sslmode=require`);
    expect(error.message).toContain("The server does not support SSL connections");
    expect(error.hint).toMatchInlineSnapshot(
      `"The server does not accept TLS connections: use sslmode=disable (or prefer) in the url, or turn ssl on at the server."`,
    );
  }, 60_000);

  it("check refuses an sslmode libpq does not have, and verify-ca without sslrootcert", () => {
    const problems = (url: string, env: Record<string, string> = {}) =>
      sink.check!({ options: sink.options.parse({ url }), resolvePath: (p) => p, env }).problems;
    expect(problems("postgres://h/db?sslmode=no-verify")).toMatchInlineSnapshot(`
      [
        {
          "hint": "Use one of disable, prefer, require, verify-ca, verify-full (libpq's meanings): for pg's no-verify, sslmode=require encrypts without verifying the server.",
          "message": "sslmode=no-verify is not an sslmode the sink knows",
          "option": "url",
        },
      ]
    `);
    expect(problems("postgres://h/db?sslmode=allow")[0]?.message).toBe(
      "sslmode=allow is not an sslmode the sink knows",
    );
    expect(problems("postgres://h/db?sslmode=verify-ca")).toMatchInlineSnapshot(`
      [
        {
          "hint": "Add the CA's certificate file as sslrootcert=/path/to/root.crt to the url, or use sslmode=verify-full to check the server against this machine's trusted CAs.",
          "message": "sslmode=verify-ca needs sslrootcert: the CA the server's certificate is checked against",
          "option": "url",
        },
      ]
    `);
    expect(problems("postgres://h/db", { PGSSLMODE: "no-verify" })[0]?.message).toBe(
      "PGSSLMODE=no-verify is not an sslmode the sink knows",
    );
    // the url's sslmode wins over PGSSLMODE, as in libpq
    expect(problems("postgres://h/db?sslmode=require", { PGSSLMODE: "no-verify" })).toEqual([]);
    for (const mode of ["disable", "prefer", "require", "verify-full"])
      expect(problems(`postgres://h/db?sslmode=${mode}`)).toEqual([]);
    expect(problems("postgres://h/db?sslmode=verify-ca&sslrootcert=/etc/ca.crt")).toEqual([]);
  });

  it("nothing reached process.emitWarning in this process", () => {
    expect(warnings).toEqual([]);
  });
});
