/**
 * Vitest's global setup: one temp folder for the whole test run, given to every worker and every
 * child process it starts through TMPDIR (os.tmpdir()), and removed when the run ends. The tests make
 * their folders with mkdtemp and left them behind: ~7,000 folders, ~75 GB of /tmp on this machine
 * after a few sessions, until a CI run failed with ENOSPC. BATCHPIPE_KEEP_TEST_TMP=1 keeps it (to
 * look into a failure); its path is printed then.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export default function setup(): () => void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "batchpipe-tests-"));
  // traversable by other users: the PostgreSQL harness runs its server as `postgres` under it
  fs.chmodSync(dir, 0o755);
  process.env.TMPDIR = dir;
  return () => {
    if (process.env.BATCHPIPE_KEEP_TEST_TMP) {
      process.stdout.write(`test temp folders kept in ${dir}\n`);
      return;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
}
