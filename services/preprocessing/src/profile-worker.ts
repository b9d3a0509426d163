/**
 * Worker thread that profiles the shards of one import (see `DatasetProfiler`), so that the
 * pipeline's profiler runs beside parsing instead of after it. Messages, in order:
 * `{ kind: 'shard', bytes, types }` (an encoded shard) … then `{ kind: 'result' }`, answered
 * with `{ profiles }` (the pipeline's ColumnProfile objects).
 */
import { parentPort } from 'node:worker_threads';
import { TableProfiler, type ColumnType } from '@aimaas/pipeline';
import { decodeShard } from './shard-codec.js';
import { PROFILER_OPTIONS, shardToTable } from './dataset-profile.js';

type Message = { kind: 'shard'; bytes: Uint8Array; types: Record<string, ColumnType> } | { kind: 'result' };

const profiler = new TableProfiler(PROFILER_OPTIONS);

parentPort!.on('message', (message: Message) => {
  if (message.kind === 'shard') {
    profiler.push(shardToTable(decodeShard(message.bytes), message.types));
  } else {
    parentPort!.postMessage({ profiles: profiler.result() });
  }
});
