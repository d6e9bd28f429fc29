// Preloaded into the stress's storage server (see volume-kill-stress.ts): volumes of
// STRESS_VOLUME_BYTES, so that they roll over and get compacted every few seconds.
require('tsx/cjs');
const { VolumeStore } = require('../../src/storage/volume-store.ts');
const open = VolumeStore.open;
VolumeStore.open = (dataDir, logger, asStoreError) => open.call(VolumeStore, dataDir, logger, asStoreError, Number(process.env.STRESS_VOLUME_BYTES));
