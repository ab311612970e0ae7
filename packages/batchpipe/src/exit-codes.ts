/** The exit codes of `batchpipe`; scripts and CI depend on them. */
export const ExitCode = {
  OK: 0,
  /** the run failed (provider, state, plugin or an unexpected error) */
  RUN_ERROR: 1,
  /** the spec is invalid or the command line is wrong */
  USAGE: 2,
  /** the run finished, but some requests failed (they are in the error sinks) */
  FAILED_REQUESTS: 3,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
