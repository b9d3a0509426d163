import { SubmitTrainingJobRequest, type SearchDimension } from '@aimaas/proto';
import { InvalidArgumentError } from '@aimaas/runtime';
import { createRandom } from '@aimaas/pipeline';

/** One point of a search: dimension path → value as JSON. */
export type TrialValues = Record<string, string>;

/** Most trials one search may run. */
const MAX_TRIALS = 100;
/** Trials of a random search that gives no `max_trials`. */
const DEFAULT_RANDOM_TRIALS = 10;
const PATH = /^(model|config)(\.[a-z][a-z0-9_]*)+$/;
/** Paths whose values are whole numbers (random ranges are rounded). */
const INTEGER_LEAVES = new Set([
  'batch_size',
  'epochs',
  'seed',
  'patience',
  'step_epochs',
  'latent_size',
  'filters',
  'kernel_size',
]);

/**
 * The trial points of a search: `grid` takes the cartesian product of every dimension's
 * `values_json` (at most `maxTrials` when given, and at most 100); `random` draws `maxTrials`
 * points (default 10), each dimension from its `values_json` or from `[min, max]` on a linear or
 * log scale, seeded by `seed` so the same search gives the same points.
 *
 * @throws InvalidArgumentError naming the dimension (`dimensions[1].values_json[0]: …`).
 */
export function trialPoints(
  dimensions: SearchDimension[],
  strategy: string,
  maxTrials: number,
  seed: number,
): TrialValues[] {
  if (dimensions.length === 0) throw new InvalidArgumentError('dimensions: at least one dimension is required');
  const kind = strategy || 'grid';
  if (kind !== 'grid' && kind !== 'random')
    throw new InvalidArgumentError(`strategy: must be "grid" or "random", got ${JSON.stringify(strategy)}`);
  if (!(Number.isInteger(maxTrials) && maxTrials >= 0 && maxTrials <= MAX_TRIALS)) {
    throw new InvalidArgumentError(`max_trials: must be in 0..${MAX_TRIALS}, got ${maxTrials}`);
  }
  const seen = new Set<string>();
  const parsed = dimensions.map((d, i) => {
    const field = `dimensions[${i}]`;
    if (!PATH.test(d.path))
      throw new InvalidArgumentError(
        `${field}.path: expected a field path such as "config.optimizer.learning_rate", got ${JSON.stringify(d.path)}`,
      );
    if (seen.has(d.path)) throw new InvalidArgumentError(`${field}.path: "${d.path}" is given twice`);
    seen.add(d.path);
    const values = d.valuesJson.map((v, j) => {
      try {
        JSON.parse(v);
        return v;
      } catch {
        throw new InvalidArgumentError(`${field}.values_json[${j}]: not JSON: ${v}`);
      }
    });
    if (values.length === 0) {
      if (kind === 'grid') throw new InvalidArgumentError(`${field}.values_json: a grid search needs values`);
      if (!(Number.isFinite(d.min) && Number.isFinite(d.max) && d.min < d.max)) {
        throw new InvalidArgumentError(`${field}: give values_json, or min < max (got min ${d.min}, max ${d.max})`);
      }
      if (d.logScale && d.min <= 0)
        throw new InvalidArgumentError(`${field}.min: a log scale needs min > 0, got ${d.min}`);
    }
    return { ...d, valuesJson: values };
  });
  if (kind === 'grid') {
    let points: TrialValues[] = [{}];
    for (const d of parsed) points = points.flatMap((p) => d.valuesJson.map((v) => ({ ...p, [d.path]: v })));
    if (maxTrials > 0) points = points.slice(0, maxTrials);
    if (points.length > MAX_TRIALS) {
      throw new InvalidArgumentError(
        `dimensions: the grid has ${points.length} points, more than ${MAX_TRIALS}; set max_trials or use fewer values`,
      );
    }
    return points;
  }
  const random = createRandom(seed ^ 0x5ea4c4);
  return Array.from({ length: maxTrials || DEFAULT_RANDOM_TRIALS }, () => {
    const point: TrialValues = {};
    for (const d of parsed) {
      if (d.valuesJson.length > 0) {
        point[d.path] = d.valuesJson[Math.floor(random() * d.valuesJson.length)]!;
        continue;
      }
      const u = random();
      let value = d.logScale
        ? Math.exp(Math.log(d.min) + u * (Math.log(d.max) - Math.log(d.min)))
        : d.min + u * (d.max - d.min);
      if (INTEGER_LEAVES.has(d.path.split('.').pop()!)) value = Math.round(value);
      point[d.path] = JSON.stringify(value);
    }
    return point;
  });
}

/**
 * The base request with a trial's values set at their paths (snake_case field paths of the
 * proto, e.g. `model.mlp.hidden_units`), as a trial job: not registered.
 *
 * @throws InvalidArgumentError when a path does not lead into the request.
 */
export function applyTrial(base: SubmitTrainingJobRequest, values: TrialValues): SubmitTrainingJobRequest {
  const json = SubmitTrainingJobRequest.toJSON(base) as Record<string, unknown>;
  for (const [path, value] of Object.entries(values)) {
    const parts = path.split('.').map(camel);
    let node: Record<string, unknown> = json;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      if (next === undefined) node[part] = {};
      else if (next === null || typeof next !== 'object' || Array.isArray(next)) {
        throw new InvalidArgumentError(`dimension "${path}": "${part}" is not a message in the request`);
      }
      node = node[part] as Record<string, unknown>;
    }
    node[parts[parts.length - 1]!] = JSON.parse(value);
  }
  return { ...SubmitTrainingJobRequest.fromJSON(json), skipRegistration: true };
}

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
