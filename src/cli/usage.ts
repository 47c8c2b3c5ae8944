// The command line's usage rules, shared by every command: one exit-code convention, usage errors, and unknown options
// reported before missing ones (a typo "--modle" is named as such, not as "--model not specified").

import type { Command, Option } from 'commander';
import { InputError } from '../errors.js';

/** Exit statuses of every `seqcast` command (`seqcast --help` lists them). */
export const EXIT = {
  ok: 0,
  /** The command ran and failed: a bad input file or model, a server that refused, frames refused, a write that failed. */
  failed: 1,
  /** The command line is wrong: an unknown command or option, a missing option, a value an option does not take. */
  usage: 2,
  /** Stopped by Ctrl-C (train keeps its best checkpoint). */
  interrupted: 130,
} as const;

/** The exit statuses, as `--help` prints them. */
export const EXIT_HELP = [
  '',
  'Exit status:',
  `  ${EXIT.ok}    success`,
  `  ${EXIT.failed}    the command failed: a bad input file or model, a server that refused, frames refused, a write that failed`,
  `  ${EXIT.usage}    usage error: an unknown command or option, a missing option, or a value an option does not take`,
  `  ${EXIT.interrupted}  interrupted (Ctrl-C)`,
].join('\n');

/** An option's value is not one the command takes (`--kind lstmm`, `--lr -1`); exits with EXIT.usage. An InputError, so library callers see one. */
export class UsageError extends InputError {
  constructor(
    /** The command whose help to point at: "train". */
    readonly command: string,
    message: string,
  ) {
    super(message);
  }
}

/** Runs `check` (a command's check of its option values), turning the InputError it throws into a UsageError of `command`. */
export function checkUsage<T>(command: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof InputError && !(err instanceof UsageError)) throw new UsageError(command, err.message);
    throw err;
  }
}

/**
 * Makes every command of `program` report an unknown option before a missing required one: commander checks required
 * options first, so `--modle x` would say "--model not specified". The required options are checked instead in a
 * preAction hook, which runs after commander's unknown-option check, with commander's own message and exit code.
 */
export function unknownOptionsFirst(program: Command): void {
  const required = new Map<Command, Option[]>();
  for (const command of program.commands) {
    const options = command.options.filter((option) => option.mandatory);
    for (const option of options) option.makeOptionMandatory(false);
    required.set(command, options);
  }
  program.hook('preAction', (_program, command) => {
    for (const option of required.get(command) ?? []) {
      if (command.getOptionValue(option.attributeName()) === undefined) {
        command.error(`error: required option '${option.flags}' not specified`, { code: 'commander.missingMandatoryOptionValue', exitCode: EXIT.usage });
      }
    }
  });
}
