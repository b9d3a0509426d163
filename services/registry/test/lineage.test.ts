import { describe, expect, it } from 'vitest';
import { LineageNodeKind } from '@aimaas/proto';
import { failure, status } from './client.js';
import { useRegistrySuite } from './harness.js';

const suite = useRegistrySuite();

describe('GetLineage', () => {
  it('walks compressed v3 ← trained v2 ← prepared dataset ← dataset iris@1, with job nodes', async () => {
    const api = suite.registry.api;
    await api.createModelVersion({ name: 'iris-clf', createModel: true, description: 'baseline' });
    await api.createModelVersion({
      name: 'iris-clf',
      lineage: {
        dataset: { name: 'iris', version: 1 },
        preparedDatasetId: 'prep-7',
        trainingJobId: 'train-42',
        compressionJobId: '',
        parent: undefined,
      },
    });
    await api.setAlias({ name: 'iris-clf', alias: 'trained', version: 2 });
    // The parent is named by alias; registration pins it to the version the alias points at now.
    const compressed = await api.createModelVersion({
      name: 'iris-clf',
      lineage: {
        parent: { name: 'iris-clf', alias: 'trained' },
        compressionJobId: 'comp-9',
        preparedDatasetId: '',
        trainingJobId: '',
        dataset: undefined,
      },
    });
    expect(compressed.version).toBe(3);
    expect(compressed.lineage?.parent).toEqual({ name: 'iris-clf', version: 2 });
    await api.setAlias({ name: 'iris-clf', alias: 'trained', version: 1 });

    const lineage = await api.getLineage({ ref: { name: 'iris-clf', version: 3 } });
    expect(lineage.nodes.map((n) => [n.id, n.kind])).toEqual([
      ['model:iris-clf@3', LineageNodeKind.LINEAGE_NODE_KIND_MODEL_VERSION],
      ['model:iris-clf@2', LineageNodeKind.LINEAGE_NODE_KIND_MODEL_VERSION],
      ['compression-job:comp-9', LineageNodeKind.LINEAGE_NODE_KIND_COMPRESSION_JOB],
      ['training-job:train-42', LineageNodeKind.LINEAGE_NODE_KIND_TRAINING_JOB],
      ['prepared:prep-7', LineageNodeKind.LINEAGE_NODE_KIND_PREPARED_DATASET],
      ['dataset:iris@1', LineageNodeKind.LINEAGE_NODE_KIND_DATASET],
    ]);
    expect(lineage.nodes[0]!.version).toMatchObject({ name: 'iris-clf', version: 3 });
    expect(lineage.nodes[1]!.version).toMatchObject({ name: 'iris-clf', version: 2 });
    expect(lineage.nodes.slice(2).every((n) => n.version === undefined)).toBe(true);
    expect(lineage.edges).toEqual([
      { from: 'model:iris-clf@3', to: 'model:iris-clf@2', relation: 'derived_from' },
      { from: 'model:iris-clf@3', to: 'compression-job:comp-9', relation: 'produced_by' },
      { from: 'model:iris-clf@2', to: 'training-job:train-42', relation: 'produced_by' },
      { from: 'model:iris-clf@2', to: 'prepared:prep-7', relation: 'trained_on' },
      { from: 'prepared:prep-7', to: 'dataset:iris@1', relation: 'prepared_from' },
    ]);
  });

  it('gives a version without lineage as a single node', async () => {
    const lineage = await suite.registry.api.getLineage({ ref: { name: 'iris-clf', version: 1 } });
    expect(lineage.nodes.map((n) => n.id)).toEqual(['model:iris-clf@1']);
    expect(lineage.nodes[0]!.version?.aliases).toEqual(['trained']);
    expect(lineage.edges).toEqual([]);
  });

  it('links a dataset straight to the model when no prepared dataset is named', async () => {
    await suite.registry.api.createModelVersion({
      name: 'direct',
      createModel: true,
      lineage: {
        dataset: { name: 'housing', version: 3 },
        preparedDatasetId: '',
        trainingJobId: '',
        compressionJobId: '',
        parent: undefined,
      },
    });
    const lineage = await suite.registry.api.getLineage({ ref: { name: 'direct' } });
    expect(lineage.edges).toEqual([{ from: 'model:direct@1', to: 'dataset:housing@3', relation: 'trained_on' }]);
  });

  it('refuses a parent that does not exist, and answers NOT_FOUND for an unknown version', async () => {
    expect(
      await failure(
        suite.registry.api.createModelVersion({
          name: 'direct',
          lineage: {
            parent: { name: 'direct', version: 99 },
            dataset: undefined,
            preparedDatasetId: '',
            trainingJobId: '',
            compressionJobId: '',
          },
        }),
      ),
    ).toEqual({ code: status.INVALID_ARGUMENT, details: 'header.lineage.parent: model "direct" has no version 99' });
    expect(await failure(suite.registry.api.getLineage({ ref: { name: 'direct', version: 5 } }))).toEqual({
      code: status.NOT_FOUND,
      details: 'model "direct" has no version 5',
    });
  });
});
