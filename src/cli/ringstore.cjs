#!/usr/bin/env -S node --max-semi-space-size=4
// Entry point of the `ringstore` command: runs the TypeScript sources directly through tsx,
// so users need no build step. The V8 flags on the first line are src/cli/node-flags.ts's.
require('tsx/cjs');
require('./main.ts');
