import { describe, expect, it } from 'vitest';
import { installSignalHandlers } from '../src/index.js';

describe('installSignalHandlers', () => {
  it('runs the shutdown once on SIGTERM and exits 0', async () => {
    const exits: number[] = [];
    let shutdowns = 0;
    let exited!: () => void;
    const done = new Promise<void>((resolve) => (exited = resolve));
    const uninstall = installSignalHandlers(
      async () => {
        shutdowns++;
      },
      { exit: (code) => (exits.push(code), exited()) },
    );
    try {
      process.emit('SIGTERM', 'SIGTERM');
      await done;
      expect(shutdowns).toBe(1);
      expect(exits).toEqual([0]);
    } finally {
      uninstall();
    }
  });

  it('exits 1 when the shutdown fails, and at once on a second signal', async () => {
    const exits: number[] = [];
    let fail!: (error: Error) => void;
    const uninstall = installSignalHandlers(() => new Promise((_, reject) => (fail = reject)), {
      exit: (code) => void exits.push(code),
    });
    try {
      process.emit('SIGINT', 'SIGINT');
      process.emit('SIGINT', 'SIGINT');
      expect(exits).toEqual([1]);
      await new Promise((resolve) => setImmediate(resolve));
      fail(new Error('hook failed'));
      await new Promise((resolve) => setImmediate(resolve));
      expect(exits).toEqual([1, 1]);
    } finally {
      uninstall();
    }
  });

  it('exits 1 when the shutdown is still running at the deadline', async () => {
    const exits: number[] = [];
    let exited!: () => void;
    const done = new Promise<void>((resolve) => (exited = resolve));
    const started = Date.now();
    const uninstall = installSignalHandlers(() => new Promise(() => undefined), {
      exit: (code) => (exits.push(code), exited()),
      deadlineMs: 50,
    });
    try {
      process.emit('SIGTERM', 'SIGTERM');
      await done;
      expect(exits).toEqual([1]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    } finally {
      uninstall();
    }
  });
});
