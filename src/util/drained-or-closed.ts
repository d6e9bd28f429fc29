/**
 * Resolves on the stream's next 'drain', or on 'close' when its peer went away (a closed stream
 * never drains). Both listeners go when either fires: a long transfer waits for drain once per
 * write, and listeners left behind would pile up for its whole length.
 */
export function drainedOrClosed(stream: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
