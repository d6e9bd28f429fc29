/** Thrown when the metadata database cannot be reached; the gateway answers 503 for it. */
export class MetadataUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MetadataUnavailableError';
  }
}
