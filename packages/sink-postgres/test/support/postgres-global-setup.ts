/**
 * Vitest's global setup (root vitest.config.ts) for the PostgreSQL tests: one server for the whole
 * test run instead of one per test file. It starts on the first ask of sharedPostgres()
 * (postgres-server.mjs; a run without PostgreSQL tests starts none) and stops when the run ends,
 * before the run's temp folder, which holds it, is removed. The workers ask over loopback HTTP: the
 * server is this process's child (as root it runs as the `postgres` user, as startPostgres does).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { SHARED_POSTGRES_ENV, startPostgres } from "./postgres-server.mjs";

export default async function setup(): Promise<() => Promise<void>> {
  let server: ReturnType<typeof startPostgres> | undefined;
  const asks = http.createServer((_req, res) => {
    // a server that failed to start is not tried again: every ask gets its error
    server ??= startPostgres();
    server.then(
      (started) => res.end(String(started.port)),
      (error: unknown) => {
        res.statusCode = 500;
        res.end(error instanceof Error ? error.message : String(error));
      },
    );
  });
  await new Promise<void>((resolve) => asks.listen(0, "127.0.0.1", resolve));
  process.env[SHARED_POSTGRES_ENV] = `http://127.0.0.1:${(asks.address() as AddressInfo).port}/`;
  return async () => {
    asks.close();
    const started = await server?.catch(() => undefined);
    await started?.stop();
  };
}
