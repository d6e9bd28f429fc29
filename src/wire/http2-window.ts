/**
 * HTTP/2 receive window, per stream and per connection, at both ends of a storage channel:
 * the gateway's channels (grpc-node.flow_control_window) and the storage server (which grpc-js
 * gives no option for; see src/storage/grpc-server-options.ts). Node's default is 64 KiB, so a chunk
 * stream would stall every 64 KiB until a WINDOW_UPDATE travels back: on a loaded machine that
 * round trip, not the disk, set the rate. 4 MiB keeps a few 1 MiB frames in flight yet bounds
 * what a keepalive PING can queue behind (8 MiB made PINGs time out under 50 parallel uploads).
 */
export const HTTP2_WINDOW_BYTES = 4 * 1024 * 1024;
