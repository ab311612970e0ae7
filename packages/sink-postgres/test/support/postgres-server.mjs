/**
 * A real PostgreSQL server for tests and benchmarks: initdb in a temp folder, `postgres` on a free
 * loopback port, stopped (fast shutdown) and removed by `stop()`. initdb and postgres refuse to run
 * as root, so as root they run as the `postgres` user (spawned with its uid and gid, so the server
 * is our direct child and gets our signals; runuser would stand between). The binaries come from Debian's
 * `postgresql` package (/usr/lib/postgresql/<version>/bin, which .ci/run installs) or PATH.
 *
 * Plain JS, so that bench/ can start one too. Local connections (unix socket) are trusted; TCP needs a password (scram-sha-256), so a test can
 * pass a real password in a URL. The superuser `postgres` has password POSTGRES_PASSWORD.
 *
 * A test run shares one server: sharedPostgres() asks the run's global setup
 * (postgres-global-setup.ts) for it, which starts it on the first ask and stops it when the run ends.
 */
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";

export const POSTGRES_PASSWORD = "bp-test-pw-7Qx";

/**
 * a sink's url option as the reference `${DATABASE_URL}`, for a spec's YAML (the test passes
 * DATABASE_URL); joined, so that it does not read as a JS template
 */
export const URL_REF = ['url: "$', '{DATABASE_URL}"'].join("");

/** where the run's global setup takes asks for the shared server (an http URL on loopback) */
export const SHARED_POSTGRES_ENV = "BATCHPIPE_TEST_POSTGRES";

/**
 * @typedef {object} PostgresServer
 * @property {number} port
 * @property {(database?: string) => string} url a superuser URL over loopback TCP (with its password)
 *   for `database` (default postgres)
 * @property {(name?: string) => Promise<string>} createDatabase a new empty database (by default a
 *   name no other test of the run takes); returns its URL
 * @property {(sql: string, params?: unknown[], database?: string) => Promise<any[]>} query SQL as the
 *   superuser in `database`: its rows
 * @property {() => Promise<void>} stop
 */

/** @typedef {Omit<PostgresServer, "stop">} SharedPostgres */

let databases = 0;
/** in default database names: test files share a server, and a process id is not unique over time */
const nameTag = randomBytes(4).toString("hex");

/**
 * @param {{ settings?: Record<string, string>, ssl?: { cert: string, key: string } }} [options]
 *   settings: extra `-c name=value` settings; default fsync off (tests kill clients, not the server).
 *   ssl: PEM files of the server's certificate and key: the server turns TLS on with copies of them
 *   (owned by the server's user, the key mode 0600, as postgres demands)
 * @returns {Promise<PostgresServer>}
 */
export async function startPostgres(options = {}) {
  const bin = findBinDir();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "bp-pg-"));
  const data = path.join(root, "data");
  const user = process.getuid?.() === 0 ? postgresUser() : {};
  if (user.uid !== undefined) fs.chownSync(root, user.uid, user.gid);

  const pwfile = path.join(root, "pw");
  fs.writeFileSync(pwfile, `${POSTGRES_PASSWORD}\n`, { mode: 0o644 });
  const initArgs = [
    "-D",
    data,
    "-U",
    "postgres",
    "--pwfile",
    pwfile,
    "--auth-local=trust",
    "--auth-host=scram-sha-256",
    "--encoding=UTF8",
    "--locale=C",
    "--no-sync",
  ];
  execFileSync(path.join(bin, "initdb"), initArgs, { stdio: "pipe", cwd: root, ...user });
  fs.rmSync(pwfile);

  const port = await freePort();
  const settings = {
    fsync: "off",
    ...(options.ssl && sslSettings(root, options.ssl, user)),
    ...options.settings,
  };
  const args = [
    "-D",
    data,
    "-p",
    String(port),
    "-k",
    root,
    "-c",
    "listen_addresses=127.0.0.1",
    ...Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
  ];
  const child = spawn(path.join(bin, "postgres"), args, {
    stdio: ["ignore", "ignore", "pipe"],
    cwd: root,
    ...user,
  });
  let log = "";
  child.stderr?.on("data", (chunk) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  const exited = new Promise((resolve) => child.once("exit", () => resolve()));

  const server = serverAt(port);
  try {
    await waitUntilReady(server.url(), child, () => log);
  } catch (error) {
    await stopChild(child, exited);
    fs.rmSync(root, { recursive: true, force: true });
    throw error;
  }

  return {
    ...server,
    async stop() {
      await stopChild(child, exited);
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * The test run's one server, started on the first ask and stopped when the run ends (by the global
 * setup of the root vitest.config.ts). A test file takes databases and roles of its own names
 * (createDatabase's default is one), leaves the server's settings alone and does not stop it:
 * tests that need a server of their own (TLS, other settings) start one with startPostgres.
 * @returns {Promise<SharedPostgres>}
 */
export async function sharedPostgres() {
  const ask = process.env[SHARED_POSTGRES_ENV];
  if (!ask)
    throw new Error(
      `no shared PostgreSQL server: ${SHARED_POSTGRES_ENV} is not set. Run the tests with the root vitest.config.ts (its globalSetup starts the server), or call startPostgres().`,
    );
  const res = await fetch(ask, { method: "POST" });
  const body = await res.text();
  if (!res.ok) throw new Error(`the shared PostgreSQL server did not start: ${body}`);
  return serverAt(Number(body));
}

// --- internal ---

/** @returns {SharedPostgres} the superuser's access to the server on `port` */
function serverAt(port) {
  const url = (database = "postgres") =>
    `postgres://postgres:${POSTGRES_PASSWORD}@127.0.0.1:${port}/${database}`;
  const query = async (sql, params = [], database = undefined) => {
    const client = new pg.Client({ connectionString: url(database) });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows;
    } finally {
      await client.end();
    }
  };
  return {
    port,
    url,
    query,
    async createDatabase(name = `db_${process.pid}_${nameTag}_${++databases}`) {
      await query(`CREATE DATABASE "${name}"`);
      return url(name);
    },
  };
}

/** copies of the certificate and key in the server's folder, readable by its user only */
function sslSettings(root, ssl, user) {
  const files = { ssl_cert_file: ssl.cert, ssl_key_file: ssl.key };
  const settings = { ssl: "on" };
  for (const [name, from] of Object.entries(files)) {
    const to = path.join(root, path.basename(name));
    fs.copyFileSync(from, to);
    fs.chmodSync(to, 0o600);
    if (user.uid !== undefined) fs.chownSync(to, user.uid, user.gid);
    settings[name] = to;
  }
  return settings;
}

function findBinDir() {
  const base = "/usr/lib/postgresql";
  const versions = fs.existsSync(base)
    ? fs
        .readdirSync(base)
        .filter((v) => fs.existsSync(path.join(base, v, "bin/postgres")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length > 0) return path.join(base, versions[0], "bin");
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (fs.existsSync(path.join(dir, "postgres")) && fs.existsSync(path.join(dir, "initdb"))) return dir;
  }
  throw new Error("no PostgreSQL server found: apt-get install -y postgresql (as .ci/run does)");
}

function postgresUser() {
  const line = fs
    .readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  if (!line) throw new Error("running as root and there is no postgres user: apt-get install -y postgresql");
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilReady(url, child, log) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`postgres exited while starting:\n${log()}`);
    const client = new pg.Client({ connectionString: url });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => {});
      if (Date.now() > deadline) throw new Error(`postgres did not start: ${error}\n${log()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** SIGINT is postgres's fast shutdown: it ends sessions and stops cleanly */
async function stopChild(child, exited) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGINT");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}
