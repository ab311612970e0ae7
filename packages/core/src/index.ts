export * from "./errors.js";
export type * from "./plugin.js";
