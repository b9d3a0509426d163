/**
 * `round` with ties to the even neighbour: numpy's `round`, which the TF.js converter uses, and
 * what ONNX QuantizeLinear does. The one rounding of every quantizer here.
 */
export function roundHalfToEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}
