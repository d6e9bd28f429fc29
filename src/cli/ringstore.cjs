#!/usr/bin/env node
// Entry point of the `ringstore` command: runs the TypeScript sources directly through tsx,
// so users need no build step.
require('tsx/cjs');
require('./main.ts');
