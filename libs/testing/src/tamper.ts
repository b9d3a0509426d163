import type { NatsConnection } from '@nats-io/transport-node';

/** A JetStream API request over plain NATS, as the `nats` CLI sends it. */
async function jsApi<T>(nc: NatsConnection, subject: string, body: object): Promise<T> {
  const reply = await nc.request(subject, JSON.stringify(body), { timeout: 5_000 });
  const parsed = reply.json<T & { error?: { description: string } }>();
  if (parsed.error) throw new Error(`${subject}: ${parsed.error.description}`);
  return parsed;
}

/**
 * Flips one byte (at `offset` of the chunk) in the last stored chunk of `object` in the JetStream
 * object store `bucket`, replacing that chunk's message in the stream: what a damaged disk or a
 * hand with write access to the stream would do. The object's recorded digest is left as it was.
 */
export async function tamperObjectChunk(
  nc: NatsConnection,
  bucket: string,
  object: string,
  offset = 100,
): Promise<void> {
  const stream = `OBJ_${bucket}`;
  const padding = '='.repeat((3 - (Buffer.byteLength(object) % 3)) % 3);
  const metaSubject = `$O.${bucket}.M.${Buffer.from(object).toString('base64url')}${padding}`;
  type Got = { message: { seq: number; data: string } };
  const meta = await jsApi<Got>(nc, `$JS.API.STREAM.MSG.GET.${stream}`, { last_by_subj: metaSubject });
  const { nuid } = JSON.parse(Buffer.from(meta.message.data, 'base64').toString('utf8')) as { nuid: string };
  const chunkSubject = `$O.${bucket}.C.${nuid}`;
  const last = await jsApi<Got>(nc, `$JS.API.STREAM.MSG.GET.${stream}`, { last_by_subj: chunkSubject });
  const data = Buffer.from(last.message.data, 'base64');
  data[offset % data.length] = data[offset % data.length]! ^ 0xff;
  await jsApi(nc, `$JS.API.STREAM.MSG.DELETE.${stream}`, { seq: last.message.seq });
  await nc.request(chunkSubject, data, { timeout: 5_000 });
}

/** The bytes a JetStream stream holds now (`$JS.API.STREAM.INFO`), e.g. `OBJ_aimaas_artifacts`. */
export async function streamBytes(nc: NatsConnection, stream: string): Promise<number> {
  return (await jsApi<{ state: { bytes: number } }>(nc, `$JS.API.STREAM.INFO.${stream}`, {})).state.bytes;
}
