/** Chunk ids a storage server must refuse, most of them attempts to escape the data directory. */
export const SAMPLE_UUID = '3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b';

export const BAD_CHUNK_IDS = [
  '',
  'not-a-uuid',
  '../../etc/passwd',
  'a/b',
  '/etc/passwd',
  `${SAMPLE_UUID.slice(0, 10)}\u0000${SAMPLE_UUID.slice(11)}`,
  `${SAMPLE_UUID}\u0000`,
  `${SAMPLE_UUID}/..`,
  `../${SAMPLE_UUID}`,
  ` ${SAMPLE_UUID}`,
  `${SAMPLE_UUID}\n`,
  '3f2b8c1e9a4d4e6f8b7a1c2d3e4f5a6b',
  '{3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b}',
];
