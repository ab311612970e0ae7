import path from "node:path";
import type { ShardRow } from "../state/index.js";
import { decodeShardMeta } from "./codecs/shard-meta.js";
import { NOT_SUBMITTED, readFileLines, retryShardName, SyncWriter, syncFiles } from "./read/index.js";
import type { ShardMetaIndex } from "./shard-meta-index.js";

export async function writeRetryShard(options: {
  stateDir: string;
  shard: ShardRow;
  metas: ShardMetaIndex;
  /** indexes of the requests to retry */
  retry: ReadonlySet<number>;
}): Promise<ShardRow> {
  const { shard, stateDir, metas, retry } = options;
  const attempt = shard.attempt + 1;
  const name = retryShardName(shard.root, attempt);
  const base = path.join(path.dirname(shard.file), name);
  const file = `${base}.jsonl`;
  const metaFile = `${base}.meta.jsonl`;
  const requests = new SyncWriter(path.join(stateDir, file));
  const metaOut = new SyncWriter(path.join(stateDir, metaFile));
  let tokens = 0;
  let outputTokens = 0;
  let bytes = 0;
  let index = 0;
  try {
    for await (const line of readFileLines(path.join(stateDir, shard.file))) {
      if (line === "") continue;
      const i = index++;
      if (!retry.has(i)) continue;
      const metaLine = metas.line(i);
      requests.write(`${line}\n`);
      metaOut.write(`${metaLine}\n`);
      bytes += Buffer.byteLength(line) + 1;
      const meta = decodeShardMeta(metaLine);
      tokens += meta.inputTokens;
      outputTokens += meta.outputTokens;
    }
  } finally {
    requests.close();
    metaOut.close();
  }
  // durable before the caller records the retry shard
  await syncFiles([path.join(stateDir, file), path.join(stateDir, metaFile)]);
  return {
    ...shard,
    name,
    attempt,
    file,
    metaFile,
    requests: retry.size,
    bytes,
    tokens,
    outputTokens,
    ...NOT_SUBMITTED,
  };
}
