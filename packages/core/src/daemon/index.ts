export {
  DAEMON_ENV,
  type DaemonInfo,
  type DaemonPaths,
  type DaemonStatus,
  daemonPaths,
  enterDaemonChild,
  isAlive,
  readDaemon,
  type StartDaemonOptions,
  type StopResult,
  startDaemon,
  stopDaemon,
} from "./daemon.js";
