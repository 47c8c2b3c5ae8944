// `seqcast demo`: placeholder until the demo lands (owned by the demo task).

export interface DemoOptions {
  /** Rows of the bundled stream to run; default all. */
  rows?: number;
  out: NodeJS.WritableStream;
}

export async function runDemo(_options: DemoOptions): Promise<number> {
  throw new Error('demo not built yet');
}
