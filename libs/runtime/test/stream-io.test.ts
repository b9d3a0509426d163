import { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CancelledError } from '../src/index.js';
import { pumpResponses, readRequests } from '../src/stream-io.js';

describe('pumpResponses', () => {
  it('does not pull from the producer while the sink asks to wait for drain', async () => {
    const pending: (() => void)[] = [];
    const written: number[] = [];
    const sink = new Writable({
      objectMode: true,
      highWaterMark: 1,
      write(chunk: number, _encoding, callback) {
        written.push(chunk);
        pending.push(callback);
      },
    });
    let produced = 0;
    async function* producer() {
      for (let i = 0; i < 100; i++) {
        produced++;
        yield i;
      }
    }
    const pumping = pumpResponses(producer(), sink, new AbortController().signal);
    // Let the pump run as far as it can while no write completes: the first write already fills
    // the sink (highWaterMark 1), so the producer must not be resumed.
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(produced).toBe(1);
    expect(written).toEqual([0]);
    while (written.length < 100 || pending.length > 0) {
      pending.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await pumping;
    expect(written).toEqual([...Array(100).keys()]);
  });

  it('stops the producer (running its finally) and throws the abort reason', async () => {
    const controller = new AbortController();
    let closed = false;
    async function* producer() {
      try {
        yield 1;
        controller.abort(new CancelledError('gone'));
        yield 2;
        yield 3;
      } finally {
        closed = true;
      }
    }
    const sink = new Writable({ objectMode: true, write: (_chunk, _encoding, callback) => callback() });
    await expect(pumpResponses(producer(), sink, controller.signal)).rejects.toThrow('gone');
    expect(closed).toBe(true);
  });
});

describe('readRequests', () => {
  it('yields every message until the stream ends', async () => {
    const received: number[] = [];
    for await (const n of readRequests<number>(Readable.from([1, 2, 3]), new AbortController().signal))
      received.push(n);
    expect(received).toEqual([1, 2, 3]);
  });

  it('throws the abort reason while waiting for a message that never comes', async () => {
    const controller = new AbortController();
    const silent = new Readable({ objectMode: true, read() {} });
    const reading = (async () => {
      for await (const _ of readRequests(silent, controller.signal)) void _;
    })();
    controller.abort(new CancelledError('call cancelled by the client'));
    await expect(reading).rejects.toBeInstanceOf(CancelledError);
  });
});
