/** A virtual clock: virtual time runs `scale` times faster than real time. */
export interface Clock {
  /** Virtual now in milliseconds since the epoch. */
  nowMs(): number;
  /** Virtual now in unix seconds (what every `*_at` field carries). */
  nowSeconds(): number;
  /** Resolve after `virtualSeconds` of virtual time (at least one timer tick). */
  sleep(virtualSeconds: number, signal?: AbortSignal): Promise<void>;
  /** Real milliseconds that `virtualSeconds` take. */
  toRealMs(virtualSeconds: number): number;
  setScale(scale: number): void;
}

export function createClock(scale: number): Clock {
  let baseReal = Date.now();
  let baseVirtual = baseReal;
  let currentScale = scale;
  const nowMs = () => baseVirtual + (Date.now() - baseReal) * currentScale;
  const toRealMs = (virtualSeconds: number) => Math.max(0, (virtualSeconds * 1000) / currentScale);
  return {
    nowMs,
    nowSeconds: () => Math.floor(nowMs() / 1000),
    toRealMs,
    sleep(virtualSeconds, signal) {
      return new Promise((resolve) => {
        if (signal?.aborted) return resolve();
        const timer = setTimeout(done, toRealMs(virtualSeconds));
        function done() {
          clearTimeout(timer);
          signal?.removeEventListener("abort", done);
          resolve();
        }
        signal?.addEventListener("abort", done, { once: true });
      });
    },
    setScale(next) {
      // rebase so virtual time stays continuous across the change
      baseVirtual = nowMs();
      baseReal = Date.now();
      currentScale = next;
    },
  };
}
