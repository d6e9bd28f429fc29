import net from 'node:net';

/**
 * Exit code of a ringstore server process that could not bind its port (98 is EADDRINUSE's
 * errno on Linux). `ringstore up` recognises it in a storage server and stops instead of
 * restarting it forever.
 */
export const EXIT_PORT_IN_USE = 98;

/** A port someone else holds: one line for the person starting ringstore, saying what to change. */
export class PortInUseError extends Error {
  constructor(readonly host: string, readonly port: number, howToChange: string) {
    super(`port ${port} on ${host} is already in use (by another program, or a ringstore already running): ${howToChange}`);
    this.name = 'PortInUseError';
  }
}

/** Whether an error (from listen, or grpc-js's bindAsync message) is EADDRINUSE. */
export function isAddressInUse(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'EADDRINUSE' || /EADDRINUSE/.test(String((error as Error)?.message));
}

/**
 * Throws PortInUseError when host:port cannot be bound now, so a start fails in a second with
 * one clear line instead of after building a database. Port 0 (any free port) always passes.
 */
export async function ensurePortFree(host: string, port: number, howToChange: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    // A client that connects during the probe is cut at once: left open and never read, it
    // would hang until its own timeout.
    const probe = net.createServer((socket) => socket.destroy());
    probe.once('error', (error) => reject(isAddressInUse(error) ? new PortInUseError(host, port, howToChange) : error));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}
