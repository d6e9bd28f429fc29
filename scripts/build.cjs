/**
 * `npm run build` (and `npm ci`, through the prepare script): compiles src/ and machines/ with
 * tsc into dist/ (or the directory given as argument), laid out as the repository is
 * (dist/src, dist/machines), then copies beside the compiled code what it reads at run time:
 * the non-TypeScript files of src/ (.cjs modules, the pages' static files) and proto/. The
 * directory is made afresh, so no deleted or renamed module lingers in it.
 */
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.resolve(process.argv[2] ?? path.join(ROOT, 'dist'));
const TYPESCRIPT = /\.[cm]?ts$/; // .ts, and the .d.cts declarations of the .cjs modules

fs.rmSync(DIST, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', DIST], { stdio: 'inherit' });
fs.cpSync(path.join(ROOT, 'src'), path.join(DIST, 'src'), {
  recursive: true,
  filter: (source) => fs.statSync(source).isDirectory() || !TYPESCRIPT.test(source),
});
fs.cpSync(path.join(ROOT, 'proto'), path.join(DIST, 'proto'), { recursive: true });

const { PGLITE_NODE_FLAGS } = require(path.join(DIST, 'src/metadata/pglite-settings.cjs'));
execFileSync(process.execPath, [...PGLITE_NODE_FLAGS, path.join(DIST, 'src/metadata/pglite-create.cjs'), path.join(DIST, 'pglite-template')], {
  stdio: 'inherit',
  env: { ...process.env, PGLITE_SETTINGS: '' }, // the user's settings are for running, not for this
});
