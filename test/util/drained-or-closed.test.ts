import { EventEmitter } from 'node:events';
import { drainedOrClosed } from '../../src/util/drained-or-closed';

describe('drainedOrClosed', () => {
  it('resolves on drain and leaves no listener behind, however often it waits', async () => {
    const stream = new EventEmitter();
    for (let i = 0; i < 1_000; i++) {
      const waited = drainedOrClosed(stream);
      stream.emit('drain');
      await waited;
    }
    expect(stream.listenerCount('drain')).toBe(0);
    expect(stream.listenerCount('close')).toBe(0);
  });

  it('resolves on close, which a stream whose peer went away emits instead of drain', async () => {
    const stream = new EventEmitter();
    const waited = drainedOrClosed(stream);
    stream.emit('close');
    await expect(waited).resolves.toBeUndefined();
    expect(stream.listenerCount('drain')).toBe(0);
  });

  it('stays pending while the stream neither drains nor closes', async () => {
    const stream = new EventEmitter();
    let settled = false;
    void drainedOrClosed(stream).then(() => (settled = true));
    stream.emit('data');
    await new Promise(setImmediate);
    expect(settled).toBe(false);
    stream.emit('drain');
    await new Promise(setImmediate);
    expect(settled).toBe(true);
  });
});
