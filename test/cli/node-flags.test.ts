/**
 * V8 flags can only be given on node's command line, so every way of starting a ringstore
 * server repeats src/cli/node-flags.ts. These checks keep the copies in step with it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NODE_FLAGS, UP_STORAGE_NODE_FLAGS } from '../../src/cli/node-flags';
import { REPO_ROOT } from '../helpers/process';

const read = (file: string): string => fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');

describe('node flags of ringstore processes', () => {
  test('npm start runs `up` with them', () => {
    const { scripts } = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(scripts.start).toBe(`node ${NODE_FLAGS.join(' ')} dist/src/cli/ringstore.cjs up`);
  });

  test('the ringstore command carries them in its shebang', () => {
    const [shebang] = read('src/cli/ringstore.cjs').split('\n');
    expect(shebang).toBe(`#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`);
  });

  test('the Docker image starts the CLI with them', () => {
    const entrypoint = read('docker/Dockerfile').split('\n').find((line) => line.startsWith('ENTRYPOINT '));
    expect(JSON.parse(entrypoint!.slice('ENTRYPOINT '.length))).toEqual(['node', ...NODE_FLAGS, 'dist/src/cli/ringstore.cjs']);
  });

  test('they are flags node accepts', () => {
    const accepted = process.allowedNodeEnvironmentFlags;
    for (const flag of [...NODE_FLAGS, ...UP_STORAGE_NODE_FLAGS]) expect(accepted.has(flag.split('=')[0])).toBe(true);
  });
});
