// Where a run of the command line writes: the terminal or pipe each command is given, so tests can run it in-process.

/** A terminal's or pipe's output, as the commands use it: writes, and whether (and how wide) it is a terminal. */
export type CliOutput = NodeJS.WritableStream & { isTTY?: boolean; columns?: number; hasColors?(): boolean };

/**
 * Where a run of the command line writes: process.stdout and process.stderr
 * for the real command, collectors for tests that run it in-process.
 * (`serve` and `replay` write to the process's own streams whatever is given.)
 */
export interface CliIo {
  stdout: CliOutput;
  stderr: CliOutput;
}
