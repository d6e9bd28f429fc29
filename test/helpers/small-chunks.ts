import { crc32 } from 'node:zlib';
import { EncodedPutData, type StorageClient } from '../../src/rpc/storage-client';
import { encodeBytesMessage, encodeFixed32Field } from '../../src/wire/bytes-message';
import { allocateWithPrefixRoom } from '../../src/wire/prefix-in-place';

/** A PutChunk data message whose data_crc32 is not the CRC of its data (a bit flipped on the way). */
export function corruptMessage(data: Buffer): EncodedPutData {
  const wrong = (crc32(data) ^ 1) >>> 0;
  const { bytes } = encodeBytesMessage(2, [data], encodeFixed32Field(5, wrong), allocateWithPrefixRoom);
  return new EncodedPutData(bytes, data.length, wrong);
}

/** Puts a whole chunk as the gateway does a small one (StorageClient.putSmallChunk). */
export async function putSmall(client: StorageClient, chunkId: string, message: EncodedPutData, deadlineMs?: number): Promise<unknown> {
  const writer = client.putSmallChunk(chunkId, message.dataLength, { idleTimeoutMs: deadlineMs });
  await writer.write(message);
  return writer.end();
}
