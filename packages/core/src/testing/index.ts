/**
 * `@batchpipe/core/testing`: conformance suites every source, sink and provider runs.
 *
 * They return plain checks instead of registering tests, so core has no runtime dependency on a
 * test runner: `for (const check of testSink(plugin, opts)) test(check.name, check.run)`.
 */
export type { ConformanceCheck, InvalidOptionsCase } from "./conformance.js";
export { createTestContext, silentLogger, withTempDir } from "./conformance.js";
export { type TestProviderOptions, testProvider } from "./provider-conformance.js";
export { type ReadBackRow, type TestSinkOptions, testSink } from "./test-sink.js";
export { readSource, type TestSourceOptions, testSource } from "./test-source.js";
