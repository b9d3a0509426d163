/**
 * Errors thrown by `@aimaas/ml`. Each carries a gRPC-style `code` so a service can map it to a
 * status (or rethrow it as the matching `@aimaas/runtime` domain error) without string matching.
 *
 * @example
 * try { exportOnnx(model); } catch (e) { if (e instanceof OnnxExportError) log(e.layerName); }
 */
export abstract class MlError extends Error {
  /** The gRPC status code name this error maps to. */
  abstract readonly code: 'INVALID_ARGUMENT' | 'FAILED_PRECONDITION' | 'UNIMPLEMENTED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A ModelSpec, build option or artifact file is malformed; the message names the field. */
export class InvalidModelSpecError extends MlError {
  readonly code = 'INVALID_ARGUMENT';
}

/** Model artifacts (model.json, weights, quantization manifest) are malformed or incomplete. */
export class InvalidArtifactError extends MlError {
  readonly code = 'INVALID_ARGUMENT';
}

/** A requested TF.js backend is not installed or failed to initialize. */
export class BackendUnavailableError extends MlError {
  readonly code = 'FAILED_PRECONDITION';
}

/** A layer (or one of its settings) has no ONNX equivalent in this exporter. */
export class OnnxExportError extends MlError {
  readonly code = 'UNIMPLEMENTED';
  /** Name of the offending layer, e.g. `conv_1`. */
  readonly layerName: string;
  /** TF.js class of the offending layer, e.g. `Conv3D`. */
  readonly layerClass: string;
  constructor(layerName: string, layerClass: string, reason: string, options?: { cause?: unknown }) {
    super(`cannot export layer "${layerName}" (${layerClass}) to ONNX: ${reason}`, options);
    this.layerName = layerName;
    this.layerClass = layerClass;
  }
}
