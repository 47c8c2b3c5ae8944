// ONNX Runtime on the shared ONNX export of the same model (bench/onnx/lstm_hH.onnx:
// x [T,B,X], h0/c0 [1,B,H] in; y [T,B,O], hn/cn [1,B,H] out), as its docs show:
// `InferenceSession.create(file, options)`, then `await session.run(feeds)` per
// call. State is carried by feeding the `hn`/`cn` outputs of one call back as
// `h0`/`c0` of the next.
//   - onnxruntime-node: the native CPU execution provider, intraOpNumThreads 1.
//   - onnxruntime-web: its WebAssembly backend under Node (SIMD build), numThreads 1.

import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { installedVersion, type BenchModel, type Frames, type Peer, type SequenceRunner, type Stepper } from './types.js';

type Ort = typeof ortNode | typeof ortWeb;
type Session = ortNode.InferenceSession | ortWeb.InferenceSession;
type Tensor = ortNode.Tensor | ortWeb.Tensor;

export type OrtFlavor = 'node' | 'web';

export function onnxruntimePeer(flavor: OrtFlavor): Peer {
  const ort: Ort = flavor === 'node' ? ortNode : ortWeb;
  const sessions = new Map<number, Session>();

  const sessionFor = async (m: BenchModel): Promise<Session> => {
    let session = sessions.get(m.hidden);
    if (!session) {
      session = flavor === 'node'
        ? await ortNode.InferenceSession.create(m.onnxPath, {
          executionProviders: ['cpu'],
          intraOpNumThreads: 1,
          interOpNumThreads: 1,
          executionMode: 'sequential',
          graphOptimizationLevel: 'all',
        })
        : await ortWeb.InferenceSession.create(m.onnxPath, {
          executionProviders: ['wasm'],
          graphOptimizationLevel: 'all',
        });
      sessions.set(m.hidden, session);
    }
    return session;
  };

  const tensor = (data: Float32Array, dims: number[]): Tensor => new ort.Tensor('float32', data, dims) as Tensor;

  return {
    id: `onnxruntime-${flavor}`,
    library: `onnxruntime-${flavor}`,
    version: installedVersion(`onnxruntime-${flavor}`),
    backend: flavor === 'node'
      ? 'native cpu execution provider, intraOpNumThreads 1'
      : 'wasm backend under Node (SIMD), numThreads 1',
    async: true,

    async init() {
      if (flavor === 'web') {
        ortWeb.env.wasm.numThreads = 1; // one thread, like every other row
        ortWeb.env.wasm.proxy = false;
      }
    },

    async streams(m: BenchModel, batch: number): Promise<Stepper> {
      const session = await sessionFor(m);
      const H = m.hidden, X = m.inputSize;
      const zeros = tensor(new Float32Array(batch * H), [1, batch, H]);
      let h = zeros, c = zeros;
      let y: Float32Array = new Float32Array(0);
      return {
        carriesState: true,
        note: `\`await session.run({ x: [1, ${batch}, ${X}], h0, c0 })\` per step, \`hn\`/\`cn\` fed back`,
        step: async (frames: Frames) => {
          // the casts: onnxruntime-node and onnxruntime-web each bundle their own onnxruntime-common types
          const out = await (session as ortNode.InferenceSession).run({ x: tensor(frames.flat, [1, batch, X]), h0: h, c0: c } as ortNode.InferenceSession.FeedsType);
          h = out.hn as Tensor;
          c = out.cn as Tensor;
          y = out.y.data as Float32Array;
          return y[0];
        },
        last: () => y.slice(),
        reset: () => {
          h = zeros;
          c = zeros;
        },
        dispose: () => {},
      };
    },

    async sequence(m: BenchModel, length: number): Promise<SequenceRunner> {
      const session = await sessionFor(m);
      const H = m.hidden, X = m.inputSize;
      const zeros = tensor(new Float32Array(H), [1, 1, H]);
      let y: Float32Array = new Float32Array(0);
      return {
        note: `\`await session.run({ x: [${length}, 1, ${X}], h0: 0, c0: 0 })\` per sequence`,
        run: async (sequence: Frames) => {
          const out = await (session as ortNode.InferenceSession).run({ x: tensor(sequence.flat, [length, 1, X]), h0: zeros, c0: zeros } as ortNode.InferenceSession.FeedsType);
          y = out.y.data as Float32Array;
          return y[0];
        },
        last: () => y.slice(),
        dispose: () => {},
      };
    },

    async close() {
      for (const session of sessions.values()) await session.release();
      sessions.clear();
    },
  };
}
