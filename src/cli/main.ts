// The `seqcast` command line: commander parses the arguments, one file per command does the work.

import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { SeqcastError } from '../errors.js';
import { addDemoCommand } from './demo-command.js';
import { addDetectCommand } from './detect.js';
import { addPredictCommand } from './predict.js';
import { addReplayCommand } from './replay.js';
import { addServeCommand } from './serve.js';
import { addTrainCommand } from './train.js';
import { addWorkerCommand } from './worker.js';
import type { CliIo, CliOutput } from './io.js';
import { EXIT, EXIT_HELP, unknownOptionsFirst, UsageError } from './usage.js';

export type { CliIo, CliOutput } from './io.js';

/**
 * Runs the command line `seqcast <argv…>` and returns its exit code (usage.ts's
 * EXIT): 0 on success, 1 when the command fails (a `seqcast: <message>` on
 * stderr, or a stack for a bug), 2 for a usage error (unknown command or option,
 * missing option, a value an option does not take), 130 when interrupted.
 * Never calls process.exit, so tests can run it in-process with their own `io`.
 */
export async function main(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const version = readVersion();
  let exitCode = 0;
  const finish = (code: number) => {
    exitCode = code;
  };

  const program = new Command('seqcast')
    .description('Predict live streams with RNN, LSTM, GRU, transformer and hybrid models.')
    .version(version, '-v, --version', 'print the version')
    .exitOverride() // inherited by the commands: usage errors throw CommanderError
    .configureOutput({ ...outputTo(io), outputError: usageError('seqcast') });
  addPredictCommand(program, finish, io.stdout);
  addDemoCommand(program, finish, io.stdout);
  addServeCommand(program, finish);
  addReplayCommand(program, finish);
  addTrainCommand(program, finish, io);
  addDetectCommand(program, finish, io);
  addWorkerCommand(program, finish);
  for (const command of program.commands) command.configureOutput({ outputError: usageError(`seqcast ${command.name()}`) });
  unknownOptionsFirst(program);
  program.addHelpText('after', EXIT_HELP);

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    return report(err, io.stderr);
  }
}

/**
 * Commander's output settings for `io`: help and errors to its streams. For
 * the process's own streams, commander's defaults (which also read NO_COLOR
 * and FORCE_COLOR); for others, wrapped and coloured only on a terminal.
 */
function outputTo(io: CliIo) {
  if (io.stdout === process.stdout && io.stderr === process.stderr) return {};
  return {
    writeOut: (text: string) => void io.stdout.write(text),
    writeErr: (text: string) => void io.stderr.write(text),
    getOutHelpWidth: () => (io.stdout.isTTY ? io.stdout.columns : undefined) ?? 80, // commander reads "not a terminal" (undefined) as 80
    getErrHelpWidth: () => (io.stderr.isTTY ? io.stderr.columns : undefined) ?? 80,
    getOutHasColors: () => io.stdout.isTTY === true && io.stdout.hasColors?.() === true,
    getErrHasColors: () => io.stderr.isTTY === true && io.stderr.hasColors?.() === true,
  };
}

/** Prints a usage error as one line, pointing at the command's help. */
function usageError(commandPath: string) {
  return (text: string, write: (text: string) => void) => {
    const message = text.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ');
    write(`seqcast: ${message} (see '${commandPath} --help')\n`);
  };
}

/** The exit code for an error that ended a command, after telling the user about it. */
function report(err: unknown, stderr: CliOutput): number {
  if (err instanceof CommanderError) {
    // commander has printed the help, the version or the usage error already
    return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (err instanceof UsageError) {
    stderr.write(`seqcast: ${err.message} (see 'seqcast ${err.command} --help')\n`);
    return EXIT.usage;
  }
  if (err instanceof SeqcastError) {
    stderr.write(`seqcast: ${err.message}\n`);
    return EXIT.failed;
  }
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  stderr.write(`seqcast: unexpected error (a bug in seqcast; please report it with what follows)\n${detail}\n`);
  return EXIT.failed;
}

let version: string | undefined;

/** seqcast's version, from its package.json (read once per process). */
function readVersion(): string {
  // dist/cli/main.js and src/cli/main.ts both sit two levels below package.json
  version ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return version;
}
