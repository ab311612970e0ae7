/**
 * A loopback proxy in front of the emulator for answers the emulator cannot give: `answer` sees each
 * request and the emulator's whole answer, and returns the body to send (`stall`: send half of it
 * and then nothing, the connection left open), or undefined to pass it on.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export type ProxyAnswer = { body: Buffer } | { stall: true } | undefined;

export interface LoopbackProxy {
  /** e.g. http://127.0.0.1:PORT (no /v1) */
  origin: string;
  close(): Promise<void>;
}

export async function startProxy(
  target: string,
  answer: (req: http.IncomingMessage, body: Buffer) => ProxyAnswer,
): Promise<LoopbackProxy> {
  const to = new URL(target);
  const server = http.createServer((req, res) => {
    const forward = http.request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
      (upstream) => {
        const chunks: Buffer[] = [];
        upstream.on("data", (c: Buffer) => chunks.push(c));
        upstream.on("end", () => {
          const original = Buffer.concat(chunks);
          const changed = answer(req, original);
          const body = changed && "body" in changed ? changed.body : original;
          const headers = { ...upstream.headers, "content-length": String(body.length) };
          delete headers["transfer-encoding"];
          res.writeHead(upstream.statusCode ?? 502, headers);
          if (changed && "stall" in changed) res.write(body.subarray(0, Math.floor(body.length / 2)));
          else res.end(body);
        });
      },
    );
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
