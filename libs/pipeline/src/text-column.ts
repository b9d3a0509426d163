import { IMPUTED, STRICT, readStrings } from './column-readers.js';
import { PipelineSpecError } from './errors.js';
import type { FittedColumn, FittedStep, FittedVectorize } from './fitted-pipeline.js';
import type { FittedOutputs } from './number-column.js';
import type { StepSpec } from './pipeline-spec.js';
import { compareCodeUnits } from './stats.js';
import type { Table } from './table.js';

const TOKEN = /[\p{L}\p{N}]+/gu;

/**
 * The terms of one document: tokens are runs of Unicode letters and digits (after lowercasing
 * when asked); n-grams of `ngrams[0]`…`ngrams[1]` tokens are joined with one space.
 *
 * @example
 * documentTerms('Hot dog, hot!', true, [1, 2]); // ['hot', 'dog', 'hot', 'hot dog', 'dog hot']
 */
export function documentTerms(text: string, lowercase: boolean, ngrams: readonly [number, number]): string[] {
  const tokens = (lowercase ? text.toLowerCase() : text).match(TOKEN) ?? [];
  const [min, max] = ngrams;
  if (min === 1 && max === 1) return tokens;
  const terms: string[] = [];
  for (let n = min; n <= max; n++) {
    for (let start = 0; start + n <= tokens.length; start++) {
      terms.push(n === 1 ? tokens[start]! : tokens.slice(start, start + n).join(' '));
    }
  }
  return terms;
}

/**
 * Fits a text column: optional constant imputation, then a vocabulary of the `vocabularySize`
 * terms with the highest total count (ties by code units, at least `minDocumentFrequency`
 * documents), sorted by code units, and for TF-IDF the smoothed idf of each term.
 */
export function fitTextColumn(
  table: Table,
  name: string,
  steps: readonly StepSpec[],
  rows: Uint32Array,
): FittedOutputs {
  const docs = readStrings(table, name, 'text', rows, steps[0]?.op === 'impute' ? IMPUTED : STRICT);
  const fitted: FittedStep[] = [];
  for (const spec of steps) {
    if (spec.op === 'impute') {
      const value = String(spec.value);
      for (let i = 0; i < docs.length; i++) if (docs[i] === null) docs[i] = value;
      fitted.push({ op: 'impute', strategy: 'constant', value });
    } else if (spec.op === 'vectorize') {
      fitted.push(fitVectorizer(spec, docs as string[]));
    } else {
      throw new PipelineSpecError(name, spec.op, 'does not apply to a text column');
    }
  }
  const encoder = fitted[fitted.length - 1] as FittedVectorize;
  return { steps: fitted, features: encoder.vocabulary.map((term) => `${name}:${term}`) };
}

function fitVectorizer(spec: Extract<StepSpec, { op: 'vectorize' }>, docs: readonly string[]): FittedVectorize {
  const weighting = spec.weighting ?? 'tfidf';
  const lowercase = spec.lowercase ?? true;
  const ngrams: [number, number] = spec.ngrams ? [spec.ngrams[0], spec.ngrams[1]] : [1, 1];
  const minDf = spec.minDocumentFrequency ?? 1;
  const index = new Map<string, number>();
  const total: number[] = [];
  const df: number[] = [];
  const lastDoc: number[] = [];
  for (let d = 0; d < docs.length; d++) {
    for (const term of documentTerms(docs[d]!, lowercase, ngrams)) {
      let t = index.get(term);
      if (t === undefined) {
        t = total.length;
        index.set(term, t);
        total.push(0);
        df.push(0);
        lastDoc.push(-1);
      }
      total[t]!++;
      if (lastDoc[t] !== d) {
        lastDoc[t] = d;
        df[t]!++;
      }
    }
  }
  const ranked = [...index]
    .filter(([, t]) => df[t]! >= minDf)
    .sort((a, b) => total[b[1]]! - total[a[1]]! || compareCodeUnits(a[0], b[0]));
  const chosen = ranked.slice(0, spec.vocabularySize ?? 1000).sort((a, b) => compareCodeUnits(a[0], b[0]));
  const n = docs.length;
  return {
    op: 'vectorize',
    weighting,
    lowercase,
    ngrams,
    norm: spec.norm ?? (weighting === 'tfidf' ? 'l2' : 'none'),
    vocabulary: chosen.map(([term]) => term),
    idf: weighting === 'tfidf' ? chosen.map(([, t]) => Math.log((1 + n) / (1 + df[t]!)) + 1) : [],
  };
}

const vocabularies = new WeakMap<FittedVectorize, Map<string, number>>();

function vocabularyOf(step: FittedVectorize): Map<string, number> {
  let lookup = vocabularies.get(step);
  if (lookup === undefined) {
    lookup = new Map(step.vocabulary.map((term, i) => [term, i]));
    vocabularies.set(step, lookup);
  }
  return lookup;
}

/** Writes the term weights of a fitted text column for `rows` into row-major `out`. */
export function encodeTextColumn(
  table: Table,
  column: FittedColumn,
  rows: Uint32Array,
  out: Float32Array,
  stride: number,
): void {
  const first = column.steps[0];
  const docs = readStrings(table, column.name, 'text', rows, first?.op === 'impute' ? IMPUTED : STRICT);
  const fill = first?.op === 'impute' ? String(first.value) : '';
  const step = column.steps[column.steps.length - 1];
  if (step?.op !== 'vectorize')
    throw new PipelineSpecError(column.name, step?.op ?? 'steps', 'a text column must end with vectorize');
  const lookup = vocabularyOf(step);
  const tfidf = step.weighting === 'tfidf';
  const weights = new Float64Array(step.vocabulary.length);
  const touched: number[] = [];
  for (let i = 0, at = column.featureOffset; i < docs.length; i++, at += stride) {
    for (const term of documentTerms(docs[i] ?? fill, step.lowercase, step.ngrams)) {
      const t = lookup.get(term);
      if (t === undefined) continue;
      if (weights[t] === 0) touched.push(t);
      weights[t]! += 1;
    }
    let sumSquares = 0;
    for (const t of touched) {
      const w = tfidf ? weights[t]! * step.idf[t]! : weights[t]!;
      weights[t] = w;
      sumSquares += w * w;
    }
    const norm = step.norm === 'l2' && sumSquares > 0 ? Math.sqrt(sumSquares) : 1;
    for (const t of touched) {
      out[at + t] = weights[t]! / norm;
      weights[t] = 0;
    }
    touched.length = 0;
  }
}
