// `batchpipe/plugin`: the plugin API of @batchpipe/core/plugin (defineSource, defineSink, z, …), for an
// app that depends on `batchpipe` alone (under pnpm it cannot import @batchpipe/core, a dependency of
// a dependency). A plugin published as a package imports @batchpipe/core/plugin instead.
export * from "@batchpipe/core/plugin";
