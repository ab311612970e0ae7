import { describe, expect, it } from "vitest";
import { BatchpipeError, ErrorCodes, summarizeError, systemError, UNEXPECTED } from "../src/errors.js";

/** an error as Node's fs or better-sqlite3 throws it */
const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe("summarizeError", () => {
  it("names a problem of the machine SYSTEM, with its errno and how to go on", () => {
    expect(summarizeError(withCode("database or disk is full", "SQLITE_FULL"))).toEqual({
      code: ErrorCodes.SYSTEM,
      errno: "SQLITE_FULL",
      message: "the disk is full (SQLITE_FULL): database or disk is full",
      hint: expect.stringContaining("run the same command again"),
    });
    expect(summarizeError(withCode("open 'x'", "EACCES"))).toMatchObject({ code: "SYSTEM", errno: "EACCES" });
    // what the cache's writer thread replies: a plain object, not an Error
    expect(systemError({ message: "disk I/O error", code: "SQLITE_IOERR_WRITE" })).toMatchObject({
      message: "the disk failed to read or write (SQLITE_IOERR_WRITE): disk I/O error",
    });
  });

  it("keeps a BatchpipeError's code and hint, with the errno of a machine problem among its causes", () => {
    const full = withCode("ENOSPC: no space left on device, write", "ENOSPC");
    const wrapped = new Error("flush failed", { cause: full });
    const error = new BatchpipeError(ErrorCodes.PLUGIN_FAILED, "sinks[0] (jsonl) failed in write", {
      hint: "see the cause",
      cause: wrapped,
    });
    expect(summarizeError(error)).toEqual({
      code: ErrorCodes.PLUGIN_FAILED,
      message: "sinks[0] (jsonl) failed in write",
      hint: "see the cause",
      errno: "ENOSPC",
    });
    expect(summarizeError(new BatchpipeError(ErrorCodes.SPEC_INVALID, "bad"))).toEqual({
      code: ErrorCodes.SPEC_INVALID,
      message: "bad",
    });
  });

  it("calls anything else UNEXPECTED (a bug), an OS code that is not the machine's too", () => {
    expect(summarizeError(new TypeError("x is undefined"))).toEqual({
      code: UNEXPECTED,
      message: "x is undefined",
    });
    expect(summarizeError(withCode("no such file", "ENOENT"))).toMatchObject({ code: UNEXPECTED });
    expect(summarizeError("thrown string")).toEqual({ code: UNEXPECTED, message: "thrown string" });
    expect(systemError(new BatchpipeError(ErrorCodes.STATE_FAILED, "x"))).toBeUndefined();
  });
});
