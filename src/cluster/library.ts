// The package's `seqcast/cluster` entry (package.json "exports"): the library's opt-in pool of worker threads for
// large batches. A subpath, not src/index.ts, because the house floors keep src/index.ts from importing src/cluster.

export { StepPool, type PooledStream } from './step-pool.js';
