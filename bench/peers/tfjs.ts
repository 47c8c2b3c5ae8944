// TensorFlow.js (@tensorflow/tfjs, layers API), on its cpu backend and on
// @tensorflow/tfjs-backend-wasm (SIMD, one thread: its threads do not start
// under Node). The model is what the Keras-style docs describe for stepping a
// stream: `tf.layers.lstm({ stateful: true, batchInputShape: [B, 1, X] })` + a
// dense head, one frame per `model.predict` call (state carried by the layer),
// the output read with `dataSync()`. W3 uses a non-stateful copy with
// `returnSequences: true` over [1, T, X], one `predict` per sequence.
//
// Weights: Keras gate order i, f, c, o equals PyTorch's i, f, g, o; Keras keeps
// kernels as [in, 4H] (PyTorch's transposed) and ONE bias (b_ih + b_hh).
// recurrentActivation is set to 'sigmoid' (tfjs's default is hardSigmoid), and
// the initializers to glorotNormal (the default orthogonal init takes minutes
// at H=512); the shared weights are then set with `setWeights`.

import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { installedVersion, Skip, summedBias, transpose, type BenchModel, type Frames, type Peer, type SequenceRunner, type Stepper } from './types.js';

export type TfjsBackend = 'cpu' | 'wasm';

let wasmPathsSet = false;

/** Points tfjs-backend-wasm at its .wasm files in node_modules (needed under Node and vitest). */
function setWasmDir(): void {
  if (wasmPathsSet) return;
  const require = createRequire(import.meta.url);
  const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
  setWasmPaths(`${dir}${path.sep}`);
  wasmPathsSet = true;
}

function buildModel(m: BenchModel, batchInputShape: [number, number, number], stateful: boolean): tf.LayersModel {
  const H = m.hidden, X = m.inputSize, O = m.outputSize, w = m.weights;
  const model = tf.sequential();
  model.add(tf.layers.lstm({
    units: H,
    stateful,
    returnSequences: !stateful,
    batchInputShape,
    recurrentActivation: 'sigmoid',
    kernelInitializer: 'glorotNormal',
    recurrentInitializer: 'glorotNormal',
  }));
  model.add(tf.layers.dense({ units: O }));
  tf.tidy(() => {
    model.layers[0].setWeights([
      tf.tensor2d(transpose(w.weightIh, 4 * H, X), [X, 4 * H]),
      tf.tensor2d(transpose(w.weightHh, 4 * H, H), [H, 4 * H]),
      tf.tensor1d(summedBias(w)),
    ]);
    model.layers[1].setWeights([tf.tensor2d(transpose(w.headWeight, O, H), [H, O]), tf.tensor1d(w.headBias)]);
  });
  return model;
}

export function tfjsPeer(backend: TfjsBackend): Peer {
  const activate = async (): Promise<void> => {
    if (tf.getBackend() !== backend) {
      const ok = await tf.setBackend(backend);
      if (!ok) throw new Skip(`tf.setBackend('${backend}') failed`);
    }
  };
  return {
    id: `tfjs-${backend}`,
    library: backend === 'cpu' ? '@tensorflow/tfjs' : '@tensorflow/tfjs-backend-wasm',
    version: installedVersion(backend === 'cpu' ? '@tensorflow/tfjs' : '@tensorflow/tfjs-backend-wasm'),
    backend: backend === 'cpu'
      ? 'cpu backend (plain JS), layers API, prod mode'
      : 'wasm backend, SIMD, 1 thread, layers API, prod mode',
    async: false,

    async init() {
      tf.enableProdMode(); // the docs' production setting: skips debug checks (and the Node banner)
      if (backend === 'wasm') {
        setWasmDir();
        // tfjs-backend-wasm's threads (pthreads in workers) do not start under Node: use the single-threaded SIMD build
        tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      }
      await activate();
      await tf.ready();
      if (backend === 'wasm') {
        const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
        if (!simd) throw new Skip('tfjs-backend-wasm reports no SIMD support');
      }
    },
    activate,

    async streams(m: BenchModel, batch: number): Promise<Stepper> {
      await activate();
      const X = m.inputSize;
      const model = buildModel(m, [batch, 1, X], true);
      let lastOutputs: Float32Array = new Float32Array(0);
      return {
        carriesState: true,
        note: `stateful \`tf.layers.lstm\` (batchInputShape [${batch}, 1, ${X}]), \`model.predict(x)\` + \`dataSync()\` per step`,
        step: (frames: Frames) => {
          const x = tf.tensor3d(frames.flat, [batch, 1, X]);
          const y = model.predict(x, { batchSize: batch }) as tf.Tensor;
          const out = y.dataSync() as Float32Array;
          x.dispose();
          y.dispose();
          lastOutputs = out;
          return out[0];
        },
        last: () => lastOutputs.slice(),
        reset: () => model.resetStates(),
        dispose: () => {
          model.dispose();
        },
      };
    },

    async sequence(m: BenchModel, length: number): Promise<SequenceRunner> {
      await activate();
      const X = m.inputSize;
      const model = buildModel(m, [1, length, X], false);
      let lastOutputs: Float32Array = new Float32Array(0);
      return {
        note: `\`tf.layers.lstm\` with returnSequences over [1, ${length}, ${X}], one \`model.predict\` + \`dataSync()\` per sequence`,
        run: (sequence: Frames) => {
          const x = tf.tensor3d(sequence.flat, [1, length, X]);
          const y = model.predict(x) as tf.Tensor;
          const out = y.dataSync() as Float32Array;
          x.dispose();
          y.dispose();
          lastOutputs = out;
          return out[0];
        },
        last: () => lastOutputs.slice(),
        dispose: () => {
          model.dispose();
        },
      };
    },
  };
}

/** Live tensors (to check that stepping does not leak). */
export function tfjsTensorCount(): number {
  return tf.memory().numTensors;
}
