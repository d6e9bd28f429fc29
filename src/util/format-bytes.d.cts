/** Types of format-bytes.cjs (plain CommonJS, inlined into the admin and files pages too). */
export type ByteFormat = 'tenths' | 'precise' | 'compact';

/** 1536 -> "1.5 KiB", at the precision the style names. */
export declare function formatBytes(bytes: number, style: ByteFormat): string;
