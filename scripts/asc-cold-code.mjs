// An asc transform (scripts/kernel-build.mjs passes it with --transform): marks the kernel's configure-time helpers
// not to be inlined, before asc optimizes. At -O3 binaryen inlines every function of up to 70 bytes at each of its
// call sites; arenaAlloc alone has 105 (every region a model lays out), addTensor 23, panelLength 17, and inlining
// them cost 9,178 bytes of build/seqcast.wasm (64,755 → 55,577) while none of them runs on the step path ("nothing
// allocates on the step path"). Every function stepBatch, trainStep, trainForwardBackward and optimizerStep reach
// compiles to the same instructions as without this transform (`node scripts/kernel-hot-path.mjs` compares them in
// the text format; run it after adding a name below), so the step is exactly as fast, and inlining changes no
// arithmetic: every digest stays as it was.

import { Transform } from 'assemblyscript/transform';

/** Functions kept out of line, by binaryen's internal name (file path in assembly/, then the function). */
export const COLD_FUNCTIONS = ['assembly/arena/arenaAlloc', 'assembly/configure/addTensor', 'assembly/simd/panelLength'];

export default class KeepColdCodeOutOfLine extends Transform {
  /** Runs after compilation, before validation and optimization: binaryen's no-inline pass flags each function. */
  afterCompile(module) {
    for (const name of COLD_FUNCTIONS) {
      this.binaryen.setPassArgument('no-inline', name);
      module.runPasses(['no-inline']);
    }
    this.binaryen.setPassArgument('no-inline', null);
  }
}
