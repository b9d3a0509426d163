// The transport floor: a bare grpc-js server with raw-bytes methods, run as its own process like a
// service. Upload drains a client stream, Download streams N chunks of the given size, Echo echoes.
import * as grpc from '@grpc/grpc-js';

const identity = (value) => value;
const method = (name, requestStream, responseStream) => ({
  path: `/bench.Echo/${name}`,
  requestStream,
  responseStream,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});
export const ECHO_SERVICE = {
  upload: method('Upload', true, false),
  download: method('Download', false, true),
  echo: method('Echo', false, false),
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 << 20 });
  server.addService(ECHO_SERVICE, {
    upload(call, callback) {
      let bytes = 0;
      call.on('data', (chunk) => (bytes += chunk.length));
      call.on('end', () => callback(null, Buffer.from(String(bytes))));
    },
    async download(call) {
      const { total, chunk } = JSON.parse(call.request.toString());
      const payload = Buffer.alloc(chunk, 7);
      for (let sent = 0; sent < total; sent += chunk) {
        if (!call.write(payload)) await new Promise((resolve) => call.once('drain', resolve));
      }
      call.end();
    },
    echo(call, callback) {
      callback(null, call.request);
    },
  });
  server.bindAsync(process.argv[2] ?? '127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
    if (error) throw error;
    console.log(`listening ${port}`);
  });
  process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
}
