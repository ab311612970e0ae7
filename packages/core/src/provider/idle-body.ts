/**
 * A response body that stalls mid-way (headers and half the file, then silence) must not hang a run:
 * an HTTP client's timeout covers the wait for the headers only. The body is read through this,
 * which fails it when the server sends nothing for `ms` while we wait for it (the time a slow
 * consumer, e.g. a sink, takes between reads does not count).
 */
import { Readable } from "node:stream";

export function idleBody(body: Readable, ms: number, what: string): Readable {
  return Readable.from(chunksOf(body, ms, what), { objectMode: false });
}

async function* chunksOf(body: Readable, ms: number, what: string): AsyncGenerator<Buffer> {
  const chunks = body[Symbol.asyncIterator]();
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${what} sent nothing for ${ms} ms (the body stalled)`)),
          ms,
        );
      });
      let next: IteratorResult<unknown>;
      try {
        next = await Promise.race([chunks.next(), stalled]);
      } finally {
        clearTimeout(timer);
      }
      if (next.done) return;
      yield next.value as Buffer;
    }
  } finally {
    body.destroy();
  }
}
