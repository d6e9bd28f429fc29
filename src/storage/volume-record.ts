import { crc32 } from 'node:zlib';

/**
 * One record of a volume file (see volume-store.ts): a 52-byte header, then the payload.
 *
 *   magic "RSVR" | kind u8 | 3 zero bytes | chunk id (16 bytes) | sequence u64 | modified ms u64
 *   | payload length u32 | payload CRC-32 u32 | header CRC-32 u32 (of the 48 bytes before it)
 *
 * A put's payload is exactly a chunk file's bytes (data, block checks, footer: chunk-file-format),
 * so reads, verify and scrub check it as they check a chunk file. A delete (tombstone) has none.
 * The header CRC lets a scan trust a record's length without reading its payload; the payload
 * CRC finds a record torn by a crash in the volume being appended to.
 */
export const RECORD_HEADER_BYTES = 52;
const MAGIC = Buffer.from('RSVR', 'ascii');
const HEADER_SIGNED_BYTES = 48;

export type RecordKind = 'put' | 'delete';
const KIND_CODES: Record<RecordKind, number> = { put: 1, delete: 2 };

export interface RecordHeader {
  kind: RecordKind;
  chunkId: string;
  /** Orders every record of a store: the highest of an id's records says whether it is stored. */
  sequence: number;
  modifiedAtMs: number;
  payloadLength: number;
  payloadCrc: number;
}

/**
 * Writes the header into the first RECORD_HEADER_BYTES of `record`, whose payload follows them
 * (a put's bytes are gathered there as they come, so the record is never copied whole).
 */
export function sealRecord(record: Buffer, kind: RecordKind, chunkId: string, sequence: number, modifiedAtMs: number): Buffer {
  const payload = record.subarray(RECORD_HEADER_BYTES);
  encodeHeader(record, { kind, chunkId, sequence, modifiedAtMs, payloadLength: payload.length, payloadCrc: crc32(payload) });
  return record;
}

function encodeHeader(into: Buffer, header: RecordHeader): void {
  MAGIC.copy(into, 0);
  into.writeUInt32BE(KIND_CODES[header.kind] << 24, 4);
  Buffer.from(header.chunkId.replace(/-/g, ''), 'hex').copy(into, 8);
  into.writeBigUInt64BE(BigInt(header.sequence), 24);
  into.writeBigUInt64BE(BigInt(header.modifiedAtMs), 32);
  into.writeUInt32BE(header.payloadLength, 40);
  into.writeUInt32BE(header.payloadCrc >>> 0, 44);
  into.writeUInt32BE(crc32(into.subarray(0, HEADER_SIGNED_BYTES)), HEADER_SIGNED_BYTES);
}

/** The header at the start of `bytes` (at least RECORD_HEADER_BYTES), or undefined when it is not an intact one. */
export function parseHeader(bytes: Buffer): RecordHeader | undefined {
  if (bytes.length < RECORD_HEADER_BYTES || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  if (crc32(bytes.subarray(0, HEADER_SIGNED_BYTES)) !== bytes.readUInt32BE(HEADER_SIGNED_BYTES)) return undefined;
  const kind = (Object.keys(KIND_CODES) as RecordKind[]).find((candidate) => KIND_CODES[candidate] << 24 === bytes.readUInt32BE(4));
  if (!kind) return undefined;
  return {
    kind,
    chunkId: uuidText(bytes.subarray(8, 24)),
    sequence: Number(bytes.readBigUInt64BE(24)),
    modifiedAtMs: Number(bytes.readBigUInt64BE(32)),
    payloadLength: bytes.readUInt32BE(40),
    payloadCrc: bytes.readUInt32BE(44),
  };
}

export function payloadIsIntact(header: RecordHeader, payload: Buffer): boolean {
  return crc32(payload) === header.payloadCrc;
}

/** Where the next record header may start in `bytes` at or after `from`; -1 when nowhere. */
export function nextMagic(bytes: Buffer, from: number): number {
  return bytes.indexOf(MAGIC, from);
}

/**
 * The id as text, made in one piece: ids are the index's keys, one per stored chunk, and a text
 * joined from slices keeps the pieces it was joined from (479 bytes of heap per indexed chunk
 * against 221, keys and entries together).
 */
function uuidText(id: Buffer): string {
  return id.toString('hex').replace(UUID_GROUPS, '$1-$2-$3-$4-');
}

const UUID_GROUPS = /^(.{8})(.{4})(.{4})(.{4})/;
