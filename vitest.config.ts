import { defineConfig } from 'vitest/config';

/**
 * The kernel's numerical specifications (golden, finite differences, bit identity, activations, the token table),
 * run a second time against its relaxed-SIMD build and a third against its scalar build (no SIMD); the host-side
 * API suites run once, in the main project.
 */
const KERNEL_SUITES = [
  'tests/kernel-variant.test.ts',
  'tests/activations.test.ts',
  'tests/recurrent-golden.test.ts',
  'tests/training-golden.test.ts',
  'tests/gradients-fd.test.ts',
  'tests/attention-golden.test.ts',
  'tests/attention-gradients-fd.test.ts',
  'tests/token-shortcut.test.ts',
  'tests/kernel-bit-identity.test.ts',
  'tests/rnn-relu.test.ts',
  'tests/positional-golden.test.ts',
  'tests/batched-product.test.ts',
];

/** Node 20 runs relaxed SIMD only behind a flag; Node 22+ has it by default and refuses the flag as unknown. */
const RELAXED_SIMD_FLAG = Number(process.versions.node.split('.')[0]) < 22 ? ['--experimental-wasm-relaxed-simd'] : [];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'seqcast', include: ['tests/**/*.test.ts'] } },
      {
        extends: true,
        test: { name: 'kernel-relaxed', include: KERNEL_SUITES, execArgv: RELAXED_SIMD_FLAG, env: { SEQCAST_KERNEL: 'relaxed' } },
      },
      { extends: true, test: { name: 'kernel-scalar', include: KERNEL_SUITES, env: { SEQCAST_KERNEL: 'scalar' } } },
    ],
  },
});
