// Container health check for every ringstore role, with no curl in the image.
// The role comes from the container's main command (PID 1), so `docker run ringstore storage`
// is checked correctly with no extra setting:
//   gateway, up -> GET /health on HOST:PORT must answer 200 (503 means the database is down)
//   storage     -> the standard grpc.health.v1 Check must answer SERVING
// Exit 0 = healthy, 1 = unhealthy (what Docker's HEALTHCHECK expects).
'use strict';
const fs = require('node:fs');
const http = require('node:http');

const TIMEOUT_MS = 4000;
const HTTP_ROLES = ['gateway', 'up'];
const GRPC_SERVING = 1; // grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING

/** Value of `--name value` or `--name=value` in args. */
function flagValue(args, name) {
  const index = args.indexOf(name);
  if (index >= 0) return args[index + 1];
  const inline = args.find((arg) => arg.startsWith(`${name}=`));
  return inline === undefined ? undefined : inline.slice(name.length + 1);
}

/** A wildcard bind address is probed on loopback; a specific one is probed as is. */
function probeHost(bindHost) {
  return !bindHost || bindHost === '0.0.0.0' || bindHost === '::' ? '127.0.0.1' : bindHost;
}

/** What to probe, from the ringstore command line and the container environment. */
function probeTarget(commandLine, env) {
  const roleIndex = commandLine.findIndex((arg) => arg === 'storage' || HTTP_ROLES.includes(arg));
  if (roleIndex < 0) throw new Error(`no ringstore command in "${commandLine.join(' ')}"`);
  const role = commandLine[roleIndex];
  const args = commandLine.slice(roleIndex + 1);
  if (role === 'storage') {
    const port = flagValue(args, '--port') || env.GRPC_PORT || '50051';
    const host = probeHost(flagValue(args, '--host') ?? env.GRPC_HOST);
    return { kind: 'grpc', host, port: Number(port) };
  }
  return { kind: 'http', host: probeHost(env.HOST), port: Number(flagValue(args, '--port') || env.PORT || '8080') };
}

function probeHttp({ host, port }) {
  return new Promise((resolve, reject) => {
    const request = http.get({ host, port, path: '/health', timeout: TIMEOUT_MS, agent: false }, (response) => {
      response.resume();
      if (response.statusCode === 200) resolve();
      else reject(new Error(`GET /health answered ${response.statusCode}`));
    });
    request.on('timeout', () => request.destroy(new Error(`GET /health timed out after ${TIMEOUT_MS} ms`)));
    request.on('error', reject);
  });
}

function probeGrpc({ host, port }) {
  // Loaded only for storage checks: grpc-js costs a little start-up time.
  const grpc = require('@grpc/grpc-js');
  const client = new grpc.Client(`${host}:${port}`, grpc.credentials.createInsecure());
  // HealthCheckRequest{service:""} encodes to zero bytes; the response is field 1 (status) as a
  // varint, so it is decoded by hand rather than loading the proto.
  const identity = (bytes) => bytes;
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      '/grpc.health.v1.Health/Check', identity, identity, Buffer.alloc(0),
      new grpc.Metadata(), { deadline: Date.now() + TIMEOUT_MS },
      (error, response) => {
        client.close();
        if (error) return reject(new Error(`gRPC health check failed: ${error.message}`));
        const status = response.length >= 2 && response[0] === 0x08 ? response[1] : 0;
        if (status === GRPC_SERVING) resolve();
        else reject(new Error(`gRPC health status is ${status}, not SERVING`));
      },
    );
  });
}

function probe(target) {
  return target.kind === 'grpc' ? probeGrpc(target) : probeHttp(target);
}

module.exports = { probeTarget, probe };

if (require.main === module) {
  Promise.resolve()
    .then(() => probe(probeTarget(fs.readFileSync('/proc/1/cmdline', 'utf8').split('\0'), process.env)))
    .then(
      () => process.exit(0),
      (error) => {
        console.error(`unhealthy: ${error.message}`);
        process.exit(1);
      },
    );
}
