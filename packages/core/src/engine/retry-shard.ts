import path from "node:path";
import type { ShardRow } from "../state/index.js";
import { decodeShardMeta, encodeShardMeta, type ShardMeta } from "./codecs/shard-meta.js";
import { NOT_SUBMITTED, readFileLines, retryShardName, SyncWriter, syncFiles } from "./read/index.js";
import type { ShardMetaIndex } from "./shard-meta-index.js";

export async function writeRetryShard(options: {
  stateDir: string;
  shard: ShardRow;
  metas: ShardMetaIndex;
  /** indexes of the requests to retry */
  retry: ReadonlySet<number>;
  /** of those, the ones whose attempt was not spent (undone at batch.deadline's cancel) */
  unspent?: ReadonlySet<number>;
}): Promise<ShardRow> {
  const { shard, stateDir, metas, retry, unspent } = options;
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
      const meta = decodeShardMeta(metaLine);
      requests.write(`${line}\n`);
      // the request's rows count the attempts spent: the retry shard's, less those that never ran
      metaOut.write(`${unspent?.has(i) ? notRun(meta) : metaLine}\n`);
      bytes += Buffer.byteLength(line) + 1;
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

/** the meta line of a request whose attempt never ran: one more unspent attempt */
function notRun(meta: ShardMeta): string {
  return encodeShardMeta({
    id: meta.id,
    inputTokens: meta.inputTokens,
    outputTokens: meta.outputTokens,
    rootIndex: meta.rootIndex,
    requestDigest: meta.requestDigest,
    jsonOutput: meta.jsonOutput,
    unspent: (meta.unspent ?? 0) + 1,
    source: meta.source,
    input: JSON.stringify(meta.input),
  });
}
