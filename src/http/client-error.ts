import type { Socket } from 'node:net';
import type { Logger } from '../util/logger';

/** Node's parser and timeout errors, as the status a client should see. */
function statusFor(code: string | undefined): [number, string, string] {
  if (code === 'HPE_HEADER_OVERFLOW') {
    return [431, 'Request Header Fields Too Large', 'request line and headers are larger than the server accepts (MAX_HEADER_SIZE)'];
  }
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return [408, 'Request Timeout', 'request headers were not received in time (HEADERS_TIMEOUT_MS)'];
  }
  return [400, 'Bad Request', 'malformed HTTP request'];
}

/**
 * For the server's 'clientError' event: requests Node refuses before express sees them
 * (oversized headers, slowloris headers, unparsable HTTP) get the same JSON error body as
 * every other refusal, then the connection is closed. Node's default writes an empty body.
 */
export function createClientErrorHandler(log: Logger): (error: Error & { code?: string }, socket: Socket) => void {
  return (error, socket) => {
    const response = (socket as Socket & { _httpMessage?: { headersSent?: boolean; shouldKeepAlive?: boolean } })._httpMessage;
    // The client half-closed in the middle of a request body (less than its Content-Length):
    // the route handling it answers (400, see upload/client-stream.ts) and closes the connection.
    if (error.code === 'HPE_INVALID_EOF_STATE' && response && !response.headersSent && socket.writable) {
      response.shouldKeepAlive = false;
      return;
    }
    if (error.code === 'ECONNRESET' || !socket.writable || response?.headersSent) {
      socket.destroy();
      return;
    }
    const [status, reason, message] = statusFor(error.code);
    log.debug(`Refused a client request with ${status}: ${error.code ?? error.message}`);
    const body = JSON.stringify({ error: message, code: error.code ?? 'bad_request' });
    const head =
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
    socket.end(head + body, () => socket.destroy());
  };
}
