import http2 from 'node:http2';
import net from 'node:net';
import { storageServiceDefinition, type PutChunkRequest } from '../../src/wire/storage-service';

const PUT_CHUNK = storageServiceDefinition.PutChunk;

/**
 * A PutChunk call spoken in raw HTTP/2, for what a well-behaved gRPC client never does: lie
 * about a message's length, or vanish by destroying its socket mid-stream.
 */
export class RawPutChunkCall {
  /** The call's gRPC status, from the trailers (or a trailers-only response). */
  readonly status: Promise<{ code: number; details: string }>;
  private readonly stream: http2.ClientHttp2Stream;

  constructor(private readonly connection: RawConnection, headers: Record<string, string> = {}) {
    this.stream = connection.session.request({
      ':method': 'POST',
      ':path': PUT_CHUNK.path,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
    this.status = new Promise((resolve, reject) => {
      const settle = (fields: http2.IncomingHttpHeaders): boolean => {
        if (fields['grpc-status'] === undefined) return false;
        resolve({ code: Number(fields['grpc-status']), details: decodeURIComponent(String(fields['grpc-message'] ?? '')) });
        return true;
      };
      this.stream.on('response', (headers) => settle(headers));
      this.stream.on('trailers', (trailers) => settle(trailers));
      this.stream.on('error', reject);
      this.stream.on('close', () => reject(new Error(`stream closed without a grpc-status (rst code ${this.stream.rstCode})`)));
      this.stream.resume();
    });
    this.status.catch(() => undefined); // observed by the tests that care
  }

  /** An HTTP/2 connection whose TCP socket the test holds, so it can kill it. */
  static connect(address: string): RawConnection {
    const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
    const socket = net.connect(port, host);
    const session = http2.connect(`http://${address}`, { createConnection: () => socket });
    session.on('error', () => undefined); // a destroyed socket is the point of some tests
    return { session, socket };
  }

  /** Sends one length-prefixed message; `declaredLength` lets the prefix lie. */
  send(message: Partial<PutChunkRequest>, declaredLength?: number): void {
    const payload = PUT_CHUNK.requestSerialize(message);
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(declaredLength ?? payload.length, 1);
    this.stream.write(Buffer.concat([prefix, payload]));
  }

  end(): void {
    this.stream.end();
  }

  /** The client vanishes: its TCP socket is destroyed without any HTTP/2 goodbye. */
  killSocket(): void {
    this.connection.socket.destroy();
  }
}

export interface RawConnection {
  session: http2.ClientHttp2Session;
  socket: net.Socket;
}
