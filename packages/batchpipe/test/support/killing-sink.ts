/**
 * The source of a sink plugin (`use: ./kill-sink.mjs`, options `marker` and `keys`) that kills its
 * own process with SIGKILL inside its first commit whose key matches the regular expression `keys`
 * (once: the marker file remembers). Listed after another sink, it kills the process after that
 * sink committed and before the run's state recorded the delivery. Commit keys: "<run>:<shard>" for
 * a shard, "…@<end>" for a part of one, "…:prep", "…|open" at open.
 */
export const KILLING_SINK = `import fs from "node:fs";
import { defineSink, z } from "batchpipe/plugin";
export default defineSink({
  name: "kill-once",
  options: z.strictObject({ marker: z.string(), keys: z.string() }),
  async open({ options }) {
    return {
      async write() {},
      async commit(key) {
        if (new RegExp(options.keys).test(key) && !fs.existsSync(options.marker)) {
          fs.writeFileSync(options.marker, key);
          process.kill(process.pid, "SIGKILL");
          await new Promise(() => {});
        }
        return null;
      },
      async close() {},
    };
  },
});
`;
