#!/usr/bin/env -S node --max-semi-space-size=4
// Entry point of the `ringstore` command. The package's bin and `npm start` run the build's copy,
// dist/src/cli/ringstore.cjs (`npm ci` builds it through the prepare script; `npm run build`
// after a change), where ./main is compiled JavaScript run by plain node. This copy in src/ runs
// the TypeScript sources when node has tsx's loader: `npm run dev -- up`, and the tests.
// The V8 flags on the first line are src/cli/node-flags.ts's.
require('./main');
