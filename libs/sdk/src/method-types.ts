/** One method of a ts-proto `outputServices=grpc-js` service definition (`RegistryServiceService.getModelVersion`). */
export type { MethodDefinitionLike } from '@aimaas/runtime';
import type { MethodDefinitionLike } from '@aimaas/runtime';

/** A ts-proto grpc-js service definition such as `RegistryServiceService`. */
export type ServiceDefinitionLike = { readonly [method: string]: MethodDefinitionLike };

/** The request message type of a method definition. */
export type RequestOf<M> = M extends { requestDeserialize: (value: Buffer) => infer R } ? R : never;
/** The response message type of a method definition. */
export type ResponseOf<M> = M extends { responseDeserialize: (value: Buffer) => infer R } ? R : never;

/**
 * A request as the wrappers accept it: top-level fields may be left out and take their proto3
 * defaults. Nested messages are given whole (build partial ones with `X.fromPartial()`).
 */
export type RequestInput<T> = Partial<T>;

/** Requests of a streaming call: any (async) iterable, consumed only as fast as the server takes them. */
export type RequestSource<T> = AsyncIterable<RequestInput<T>> | Iterable<RequestInput<T>>;
