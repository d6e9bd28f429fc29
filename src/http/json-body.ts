import express, { type RequestHandler } from 'express';
import { onBodyCutShort } from './upload/client-stream';

/**
 * express.json, plus a 400 when the client half-closes before its body is complete. Node
 * neither ends nor aborts such a request (our 'clientError' handler leaves it to the route to
 * answer), so the parser alone would wait on it until the socket's idle timeout.
 */
export function jsonBody(limit: string): RequestHandler {
  const parse = express.json({ limit });
  return (req, res, next) => {
    let settled = false;
    const settle = (error?: unknown) => {
      if (settled) return;
      settled = true;
      stopWatching();
      next(error);
    };
    const stopWatching = onBodyCutShort(req, settle);
    parse(req, res, settle);
  };
}
