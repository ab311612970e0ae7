/**
 * The official plugins the command line knows by name (`use: jsonl`, `use: sqlite`, `use: openai`,
 * `use: anthropic`, `use: emulator`): they come with the batchpipe package, so a spec needs no plugin package
 * installed beside it.
 */
import type { PluginRegistry } from "@batchpipe/core";
import emulator from "@batchpipe/openai-emulator/provider";
import anthropic from "@batchpipe/provider-anthropic";
import openai from "@batchpipe/provider-openai";
import sinkJsonl from "@batchpipe/sink-jsonl";
import sinkSqlite from "@batchpipe/sink-sqlite";
import sourceJsonl from "@batchpipe/source-jsonl";

export const officialPlugins: PluginRegistry = {
  source: { jsonl: sourceJsonl },
  sink: { jsonl: sinkJsonl, sqlite: sinkSqlite },
  provider: { openai, anthropic, emulator },
};
