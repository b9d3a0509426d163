import pkg from 'onnx-proto';
const { onnx } = pkg;
console.log(Object.keys(onnx), onnx.TensorProto.DataType.FLOAT);
