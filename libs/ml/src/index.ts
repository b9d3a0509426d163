/**
 * @aimaas/ml — the ML core shared by the training, compression and inference services:
 * TF.js backend choice, model builders, artifact IO, ONNX export, weight quantization, metrics.
 */
export { initBackend } from './backend.js';
export type { BackendChoice, BackendInfo } from './backend.js';
export { registerWasmTrainingKernels, WASM_FASTER_KERNELS, WASM_TRAINING_KERNELS } from './wasm-kernels.js';

export { buildModel } from './build-model.js';
export { ACTIVATIONS, modelKind } from './model-spec.js';
export type {
  Activation,
  AutoencoderSpec,
  BuildOptions,
  CnnSpec,
  ConvBlockSpec,
  LinearSpec,
  MlpSpec,
  ModelKind,
  ModelSpec,
  RnnSpec,
  Task,
} from './model-spec.js';
export { compileModel, createOptimizer, lossForTask, metricsForTask, oneHotLabels } from './compile-model.js';
export type { OptimizerOptions } from './compile-model.js';

export { loadModelFromFiles, MODEL_JSON, readUserMetadata, saveModelToBytes, WEIGHTS_BIN } from './artifact-io.js';
export type { LoadModelOptions, ModelFiles, SaveModelOptions } from './artifact-io.js';

export { exportOnnx, ONNX_EXPORTABLE_LAYERS } from './onnx/export-onnx.js';
export type { OnnxExportOptions } from './onnx/export-onnx.js';
export { quantizeOnnxInt8 } from './onnx/quantize-int8.js';
export type { OnnxInt8Options, OnnxInt8Result } from './onnx/quantize-int8.js';
export { quantizeOnnxInt8Static } from './onnx/quantize-int8-static.js';
export type { OnnxStaticInt8Options, OnnxStaticInt8Result } from './onnx/quantize-int8-static.js';

export {
  decodeWeights,
  dequantizeArray,
  encodeWeights,
  float16BitsToFloat32,
  float32ToFloat16Bits,
  quantizeArray,
  quantizeWeightData,
  weightByteLength,
} from './quantization.js';
export type { NamedWeight, QuantizationInfo, QuantizedArray, WeightQuantization } from './quantization.js';

export {
  accuracy,
  argmaxRows,
  classificationReport,
  confusionMatrix,
  logLoss,
  precisionRecallF1,
} from './classification-metrics.js';
export type { ClassificationReport, ClassScores } from './classification-metrics.js';
export {
  meanAbsoluteError,
  meanSquaredError,
  r2Score,
  regressionReport,
  rootMeanSquaredError,
} from './regression-metrics.js';
export type { RegressionReport } from './regression-metrics.js';

export {
  BackendUnavailableError,
  InvalidArtifactError,
  InvalidModelSpecError,
  MlError,
  OnnxExportError,
} from './errors.js';
