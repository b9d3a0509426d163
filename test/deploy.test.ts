import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { apps, autoscaling, v1 } from 'kubernetes-models';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const dockerfilelint = require('dockerfilelint') as {
  run(configDir: string, content: string): Array<{ title: string; line: number; rule: string }>;
};
const SERVICES = { preprocessing: 50051, training: 50052, compression: 50053, registry: 50054, inference: 50055 };

describe('deploy/Dockerfile', () => {
  const dockerfile = readFileSync(`${root}deploy/Dockerfile`, 'utf8');

  it('passes dockerfilelint', () => {
    expect(dockerfilelint.run(`${root}deploy`, dockerfile)).toEqual([]);
  });

  it('pins a tag on every external base image', () => {
    const stages = new Set<string>();
    for (const [, image, stage] of dockerfile.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)) {
      if (!stages.has(image)) expect(image, `FROM ${image}`).toMatch(/^[\w./-]+:[\w.-]+$/);
      if (stage) stages.add(stage);
    }
  });

  it('has a target per service that runs its built main.js', () => {
    for (const [service, port] of Object.entries(SERVICES)) {
      const stage = new RegExp(`FROM runtime AS ${service}\\n([^]*?)(?:\\n\\n|$)`).exec(dockerfile);
      expect(stage, `target ${service}`).not.toBeNull();
      const flags = service === 'inference' ? '"--expose-gc", ' : '';
      expect(stage![1]).toContain(`CMD ["node", ${flags}"services/${service}/dist/main.js"]`);
      expect(stage![1]).toContain(`EXPOSE ${port}`);
      expect(existsSync(`${root}services/${service}/src/main.ts`)).toBe(true);
    }
  });
});

describe('deploy/compose.yaml', () => {
  const compose = parse(readFileSync(`${root}deploy/compose.yaml`, 'utf8'), { merge: true });

  it('runs NATS with JetStream, an OpenTelemetry collector and the five services', () => {
    expect(compose.services.nats.command).toContain('-js');
    expect(compose.services['otel-collector'].image).toMatch(/opentelemetry-collector/);
    for (const [service, port] of Object.entries(SERVICES)) {
      const entry = compose.services[service];
      expect(entry.build.target).toBe(service);
      expect(entry.environment.NATS_URL).toBe('nats://nats:4222');
      expect(entry.environment[`AIMAAS_${service.toUpperCase()}_ADDR`]).toBe(`0.0.0.0:${port}`);
      expect(entry.environment.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://otel-collector:4318');
    }
  });
});

describe('deploy/k8s (kustomize)', () => {
  const base = `${root}deploy/k8s/base/`;
  const kustomization = parse(readFileSync(`${base}kustomization.yaml`, 'utf8'));
  const objects = (kustomization.resources as string[]).flatMap((file) =>
    parseAllDocuments(readFileSync(`${base}${file}`, 'utf8')).map((doc) => doc.toJS()),
  );
  const byKind = (kind: string) => objects.filter((o) => o.kind === kind);

  it('validates every manifest against the Kubernetes schemas', () => {
    const models: Record<string, new (o: any) => { validate(): void }> = {
      Deployment: apps.v1.Deployment,
      StatefulSet: apps.v1.StatefulSet,
      Service: v1.Service,
      ConfigMap: v1.ConfigMap,
      Namespace: v1.Namespace,
      HorizontalPodAutoscaler: autoscaling.v2.HorizontalPodAutoscaler,
    };
    for (const object of objects) {
      const Model = models[object.kind];
      expect(Model, `a model for ${object.kind}`).toBeDefined();
      expect(() => new Model(object).validate(), `${object.kind}/${object.metadata.name}`).not.toThrow();
    }
  });

  it('probes each service over gRPC health on its own port', () => {
    for (const [service, port] of Object.entries(SERVICES)) {
      const deployment = byKind('Deployment').find((d) => d.metadata.name === service);
      const container = deployment.spec.template.spec.containers[0];
      expect(container.readinessProbe.grpc.port).toBe(port);
      expect(container.livenessProbe.grpc.port).toBe(port);
      expect(byKind('Service').find((s) => s.metadata.name === service).spec.ports[0].port).toBe(port);
    }
  });

  it('autoscales inference and the training workers', () => {
    const targets = byKind('HorizontalPodAutoscaler')
      .map((h) => h.spec.scaleTargetRef.name)
      .sort();
    expect(targets).toEqual(['inference', 'training']);
  });
});
