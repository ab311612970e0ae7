// `batchpipe/testing`: the conformance suites of @batchpipe/core/testing (testSource, testSink,
// testProvider, …), for a project that depends on `batchpipe` alone and tests the plugins beside its
// spec (under pnpm it cannot import @batchpipe/core). A plugin published as a package imports
// @batchpipe/core/testing instead.
export * from "@batchpipe/core/testing";
