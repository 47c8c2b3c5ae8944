// Where the server reads the time and waits on it: the system's clock, or one a test drives.

/** Stops a periodic timer. */
export type Cancel = () => void;

/**
 * The server's time (ms since the epoch) and its periodic timers: the rate limiters, the idle and orphan timers,
 * the checkpoint timer and the metrics read it. A test passes its own and advances it instead of sleeping.
 */
export interface Clock {
  /** Now, in ms since the epoch. */
  now(): number;
  /** Runs `work` every `ms` until cancelled; never keeps the process alive on its own. */
  every(ms: number, work: () => void): Cancel;
}

/** The system's clock: Date.now(). */
export const systemClock: Clock = {
  now: () => Date.now(),
  every(ms, work) {
    const timer = setInterval(work, ms);
    timer.unref();
    return () => clearInterval(timer);
  },
};
