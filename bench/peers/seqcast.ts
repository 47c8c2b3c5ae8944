// seqcast itself, through its public API: `loadModel` on the shared
// safetensors file, `stream.step(x)` (W1), `model.stepBatch(streams, frames)`
// (W2), and a loop of `stream.step` over the sequence after `stream.reset()` (W3).
// `baseline` is the plain kernel build, which every runtime runs (the reference
// the targets are judged on); `relaxed` the relaxed-SIMD build (docs/abi.md).

import { readFileSync } from 'node:fs';
import { loadModel, type KernelVariant, type Model, type Stream } from '../../src/index.js';
import type { BenchModel, Frames, Peer, SequenceRunner, Stepper } from './types.js';

const PACKAGE_JSON = new URL('../../package.json', import.meta.url);

export function seqcastPeer(kernel: KernelVariant = 'baseline'): Peer {
  const models = new Map<number, Model>();
  const modelFor = async (m: BenchModel): Promise<Model> => {
    let model = models.get(m.hidden);
    if (!model) {
      model = await loadModel(m.safetensorsPath, { kernel });
      models.set(m.hidden, model);
    }
    return model;
  };
  return {
    id: kernel === 'relaxed' ? 'seqcast-relaxed' : 'seqcast',
    library: 'seqcast',
    version: (JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string }).version,
    backend: kernel === 'relaxed'
      ? 'WebAssembly relaxed-SIMD kernel (build/seqcast-relaxed.wasm: fused multiply-add), 1 thread'
      : 'WebAssembly SIMD kernel (build/seqcast.wasm), 1 thread',
    async: false,
    async init() {},

    async streams(m: BenchModel, batch: number): Promise<Stepper> {
      const model = await modelFor(m);
      const streams: Stream[] = Array.from({ length: batch }, (_, b) => model.openStream({ name: `peers-${m.hidden}-${batch}-${b}` }));
      let outputs: Float32Array[] = [];
      const single = streams[0];
      return {
        carriesState: true,
        note: batch === 1 ? '`stream.step(x)`' : '`model.stepBatch(streams, frames)`',
        step: batch === 1
          ? (frames: Frames) => {
            const y = single.step(frames.rows[0]);
            outputs = [y];
            return y[0];
          }
          : (frames: Frames) => {
            outputs = model.stepBatch(streams, frames.rows);
            return outputs[0][0];
          },
        last: () => {
          const flat = new Float32Array(outputs.length * m.outputSize);
          outputs.forEach((y, b) => flat.set(y, b * m.outputSize));
          return flat;
        },
        reset: () => {
          for (const s of streams) s.reset();
        },
        dispose: () => {
          for (const s of streams) s.close();
        },
      };
    },

    async sequence(m: BenchModel, length: number): Promise<SequenceRunner> {
      const model = await modelFor(m);
      const stream = model.openStream({ name: `peers-seq-${m.hidden}` });
      const outputs: Float32Array[] = new Array(length);
      return {
        note: '`stream.reset()`, then `stream.step(x)` for each of the T frames',
        run: (sequence: Frames) => {
          stream.reset();
          const rows = sequence.rows;
          for (let t = 0; t < rows.length; t++) outputs[t] = stream.step(rows[t]);
          return outputs[0][0];
        },
        last: () => {
          const flat = new Float32Array(length * m.outputSize);
          outputs.forEach((y, t) => flat.set(y, t * m.outputSize));
          return flat;
        },
        dispose: () => stream.close(),
      };
    },

    async close() {
      for (const model of models.values()) model.close();
      models.clear();
    },
  };
}

/** seqcast's model for one size (the reference the peers are compared with). */
export async function seqcastModel(m: BenchModel): Promise<Model> {
  return loadModel(m.safetensorsPath);
}
