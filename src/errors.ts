// Typed errors: every message names the file, tensor, line or value at fault.

/** Base class of every error seqcast throws on purpose; `code` is stable for programs. */
export class SeqcastError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A model file or model spec is malformed: corrupt bytes, bad header, missing or misshapen tensors, NaN weights. */
export class ModelFormatError extends SeqcastError {
  constructor(message: string) {
    super('MODEL_FORMAT', message);
  }
}

/** Data given to a model is unusable: wrong frame size, non-finite value, token outside the vocabulary, bad CSV row. */
export class InputError extends SeqcastError {
  constructor(message: string) {
    super('BAD_INPUT', message);
  }
}

/** A stream or model was used after close, or with another model's stream. */
export class StateError extends SeqcastError {
  constructor(message: string) {
    super('BAD_STATE', message);
  }
}

/** The WebAssembly kernel refused a call; `kernelCode` is its negative error code (docs/abi.md). */
export class KernelError extends SeqcastError {
  constructor(
    readonly kernelCode: number,
    message: string,
  ) {
    super('KERNEL', message);
  }
}
