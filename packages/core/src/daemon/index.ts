export { isAlive } from "../state/index.js";
export {
  DAEMON_ENV,
  type DaemonInfo,
  type DaemonPaths,
  type DaemonStatus,
  daemonPaths,
  enterDaemonChild,
  readDaemon,
  type StartDaemonOptions,
  type StopResult,
  startDaemon,
  stopDaemon,
} from "./daemon.js";
