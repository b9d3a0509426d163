import { createServer } from 'node:net';

/**
 * A TCP port that is free on 127.0.0.1 right now: binds port 0, reads the port the kernel chose,
 * and closes. Another process may take it before you bind it, so prefer letting a server pick its
 * own port (as {@link startNatsServer} does) and use this only where that is impossible.
 *
 * @example
 * const port = await freePort();
 * server.bindAsync(`127.0.0.1:${port}`, credentials, cb);
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`cannot read the port bound on ${host}`));
        return;
      }
      server.close((err) => (err ? reject(err) : resolve(address.port)));
    });
  });
}
