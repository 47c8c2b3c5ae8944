// `seqcast demo`: the command-line wiring of the demo (the demo itself is in demo.ts).

import { InvalidArgumentError, type Command } from 'commander';
import { runDemo } from './demo.js';

/** Adds the `demo` command to `program`, printing to `out`; its action hands the demo's exit code to `finish`. */
export function addDemoCommand(program: Command, finish: (exitCode: number) => void, out: NodeJS.WritableStream = process.stdout): Command {
  return program
    .command('demo')
    .summary('predict a bundled sensor stream, one step ahead')
    .description('Runs the bundled demo: a model predicting a bundled sensor stream one step ahead, with its errors and speed.')
    .option('--rows <n>', 'rows of the bundled stream to run (default: all)', positiveInteger)
    .action(async (options: { rows?: number }) => {
      finish(await runDemo({ rows: options.rows, out }));
    });
}

/** Commander argument parser for counts: "12" → 12; anything else is a usage error. */
export function positiveInteger(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError('Expected a positive whole number.');
  }
  return value;
}
