// Shim: the protocol's error codes moved to src/protocol/codes.ts (the wire floor); remove once src/stream imports them from there.

export { ErrorCode } from '../protocol/codes.js';
