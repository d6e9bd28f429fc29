import express from 'express';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConnectionSupervisor } from '../../../src/connection/types';
import { createAdminRouter, type AdminRouter, type AdminRouterOptions } from '../../../src/http/admin/router';
import { describeConnectionLayer } from '../../../machines';

/** The real machines' descriptions, as the gateway passes them. */
export const testMachines = describeConnectionLayer();

/** An express app with the admin router at /admin on a free loopback port. */
export async function startAdminApp(
  supervisor: ConnectionSupervisor,
  options: Partial<AdminRouterOptions> = {},
): Promise<{ url: string; router: AdminRouter; close: () => Promise<void> }> {
  const app = express();
  const router = createAdminRouter({ supervisor, machines: testMachines, ...options });
  app.use('/admin', router);
  const server: http.Server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    router,
    close: () => new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close((error) => (error ? reject(error) : resolve()));
    }),
  };
}
