import type { AliasChange, ModelVersion, RegisteredModel } from '@aimaas/proto';
import type { EventPublisher } from '@aimaas/events';
import type { Logger } from '@aimaas/telemetry';

/** The part of `@aimaas/events`' publisher the registry uses. */
export type RegistryEventPublisher = Pick<EventPublisher, 'publish'>;

/**
 * Publishes the registry's events after each change is committed. The ce-id is derived from the
 * change (model incarnation, version, revision), so a repeated publish is stored once. A failed
 * publish is logged, not thrown: the change is already committed and the caller must not retry it.
 */
export class RegistryEvents {
  readonly #publisher: RegistryEventPublisher;
  readonly #logger: Pick<Logger, 'warn'>;

  constructor(publisher: RegistryEventPublisher, logger: Pick<Logger, 'warn'>) {
    this.#publisher = publisher;
    this.#logger = logger;
  }

  /** registry.model.created / registry.model.deleted */
  model(type: 'created' | 'deleted', model: RegisteredModel, changeId: string): Promise<void> {
    return this.#send(`registry.model.${type}`, { model }, model.name, changeId);
  }

  /** registry.version.created / updated / deleted */
  version(type: 'created' | 'updated' | 'deleted', version: ModelVersion, changeId: string): Promise<void> {
    return this.#send(`registry.version.${type}`, { version }, `${version.name}@${version.version}`, changeId);
  }

  /** registry.alias.set / registry.alias.deleted */
  alias(type: 'set' | 'deleted', change: AliasChange, changeId: string): Promise<void> {
    return this.#send(`registry.alias.${type}`, { change }, `${change.name}@${change.alias}`, changeId);
  }

  async #send(
    type: `registry.${'model' | 'version' | 'alias'}.${string}`,
    payload: object,
    subject: string,
    changeId: string,
  ): Promise<void> {
    const id = `${type}:${changeId}`;
    try {
      // The payload matches the catalog entry of `type`; the template type cannot say so.
      await this.#publisher.publish(type as 'registry.model.created', payload as never, { id, subject });
    } catch (error) {
      this.#logger.warn({ err: error, type, id }, 'event not published; the change itself is committed');
    }
  }
}
