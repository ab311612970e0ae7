// sink-postgres's connection sends TCP keepalives: a run waits hours on its batches with that
// connection idle, and without them a NAT's idle cut or a dead server is only noticed at the next
// write. Seen on the real socket: the kernel's table of TCP sockets (/proc/net/tcp) shows the
// sink's end of the connection (found by its port, which the server reports) with its keepalive
// timer armed, due within the sink's delay (60 s; Linux's default is 2 hours). Before, no timer.
import { readFileSync } from "node:fs";
import { createTestContext } from "@batchpipe/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import sink from "../src/index.js";
import { sharedPostgres } from "./support/postgres-server.mjs";

let server: Awaited<ReturnType<typeof sharedPostgres>>;
beforeAll(async () => {
  server = await sharedPostgres();
});

/** USER_HZ: /proc/net/tcp gives the timer's due time in clock ticks */
const TICKS_PER_SECOND = 100;

/**
 * The timer of the established TCP socket on 127.0.0.1:`port`, from /proc/net/tcp: `active` 2 is
 * the socket's sk_timer pending, for an established TCP socket its keepalive timer (0: none)
 */
function timerOf(port: number): { active: number; dueSeconds: number } {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const row = readFileSync("/proc/net/tcp", "utf8")
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .find((fields) => fields[1] === local && fields[3] === "01");
  if (!row) throw new Error(`no established socket on ${local} in /proc/net/tcp`);
  const [active, due] = row[5]!.split(":");
  return { active: Number.parseInt(active!, 16), dueSeconds: Number.parseInt(due!, 16) / TICKS_PER_SECOND };
}

describe("sink-postgres: TCP keepalive on its connection", () => {
  it("the sink's socket has its keepalive timer armed, due within a minute, while it waits", async () => {
    const database = `keepalive_${process.pid}`;
    const url = await server.createDatabase(database);
    const handle = await sink.open({
      ...createTestContext("/tmp", sink.options.parse({ url })),
      checkpoint: undefined,
    });
    try {
      const [session] = await server.query(
        "SELECT client_port FROM pg_stat_activity WHERE application_name = 'batchpipe' AND datname = $1",
        [database],
      );
      expect(session?.client_port).toBeGreaterThan(0);
      const timer = timerOf(session.client_port);
      expect(timer.active, "no keepalive timer on the sink's socket").toBe(2);
      expect(timer.dueSeconds).toBeGreaterThan(0);
      expect(timer.dueSeconds).toBeLessThanOrEqual(60);
    } finally {
      await handle.close();
    }
  });
});
