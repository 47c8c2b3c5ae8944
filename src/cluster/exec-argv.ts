// The Node flags a worker thread starts with: the process's own (a V8 flag such as relaxed SIMD's must reach the
// kernel in the worker too), less those about the main script, which a worker started from a file refuses
// (`node --input-type=module -e …` would otherwise fail every worker with ERR_INPUT_TYPE_NOT_ALLOWED).

const SCRIPT_FLAGS = new Set(['-e', '--eval', '-p', '--print']);

/** process.execArgv without --input-type and -e/--eval/-p/--print with its script. */
export function workerExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const flag = execArgv[i];
    if (SCRIPT_FLAGS.has(flag)) i++;
    else if (!flag.startsWith('--input-type') && !/^--(eval|print)=/.test(flag)) kept.push(flag);
  }
  return kept;
}
