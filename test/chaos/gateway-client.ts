/** A request the gateway did not answer as asked; `message` says what the client saw. */
export class RequestFailed extends Error {
  constructor(
    message: string,
    /** HTTP status when there was a response. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** Each request is bounded: a hung gateway never stalls the chaos run. */
const REQUEST_TIMEOUT_MS = 120_000;

function describeNetworkError(error: unknown): string {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return `client timeout after ${REQUEST_TIMEOUT_MS / 1000} s`;
  if (e.name === 'AbortError') return 'aborted by the chaos run';
  const cause = e.cause?.code ?? e.cause?.message;
  return cause ? `${e.message}: ${cause}` : e.message;
}

async function send(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (error) {
    throw new RequestFailed(`network: ${describeNetworkError(error)}`);
  }
}

async function failure(res: Response): Promise<RequestFailed> {
  const text = await res.text().catch(() => '');
  let message = text;
  try {
    message = (JSON.parse(text) as { error?: string }).error ?? text;
  } catch {
    // not JSON: keep the text
  }
  // Ids and numbers vary per request; strip them so equal failures group together.
  const generic = message.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/gi, '<id>').replace(/\d+/g, 'N').slice(0, 160);
  return new RequestFailed(`http ${res.status}: ${generic}`, res.status);
}

async function bodyOf(res: Response): Promise<Buffer> {
  try {
    return Buffer.from(await res.arrayBuffer());
  } catch (error) {
    throw new RequestFailed(`body aborted after headers: ${describeNetworkError(error)}`, res.status);
  }
}

export interface UploadAck {
  file_id: string;
  size: number;
  checksum: string;
  chunks: number;
  /** Per chunk, the servers that fsynced it. */
  replicas: Array<{ chunk_id: string; server_ids: string[] }>;
}

/** The gateway's file API, as a client sees it. */
export class GatewayClient {
  constructor(private readonly baseUrl: () => string) {}

  async upload(data: Buffer, filename: string, multipart: boolean): Promise<UploadAck> {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.length);
    let res: Response;
    if (multipart) {
      const form = new FormData();
      form.append('file', new Blob([bytes as BlobPart], { type: 'application/octet-stream' }), filename);
      res = await send(`${this.baseUrl()}/files`, { method: 'POST', body: form });
    } else {
      res = await send(`${this.baseUrl()}/files?filename=${encodeURIComponent(filename)}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/octet-stream' },
        body: bytes as BodyInit,
      });
    }
    if (res.status !== 201) throw await failure(res);
    return (await res.json()) as UploadAck;
  }

  /** The whole file (range undefined, expects 200) or bytes start..end inclusive (expects 206). */
  async download(fileId: string, range?: { start: number; end: number }): Promise<Buffer> {
    const headers: Record<string, string> = range ? { Range: `bytes=${range.start}-${range.end}` } : {};
    const res = await send(`${this.baseUrl()}/files/${fileId}`, { headers });
    if (res.status !== (range ? 206 : 200)) throw await failure(res);
    return bodyOf(res);
  }

  async delete(fileId: string): Promise<void> {
    const res = await send(`${this.baseUrl()}/files/${fileId}`, { method: 'DELETE' });
    if (res.status !== 200) throw await failure(res);
    await res.arrayBuffer();
  }

  async json<T>(path: string, method: 'GET' | 'POST' = 'GET'): Promise<T> {
    const res = await send(`${this.baseUrl()}${path}`, { method });
    if (res.status !== 200) throw await failure(res);
    return (await res.json()) as T;
  }
}
