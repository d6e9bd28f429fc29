/** `ringstore admin --help`: kept apart so the top-level help does not load the admin client. */
export const ADMIN_USAGE = `Usage: ringstore admin <command> [options]

Commands:
  servers               every storage server: membership, connection, chunks and bytes held,
                        share, capacity, free space, drain and rebalance progress
  drain SERVER          SERVER (id or host:port) takes no new chunks, and its chunks move to
                        other servers; "ringstore admin servers" shows the progress
  undrain SERVER        stops a drain: SERVER takes new chunks again (also brings back a
                        drained or removed server)
  remove SERVER         takes a drained SERVER out of the cluster (refused while it holds
                        chunks, unless --force)
  rebalance             moves replicas from the fullest servers to the emptiest until every
                        server is within REBALANCE_BAND_PERCENT of its share

Options:
  --url URL             the gateway (default: RINGSTORE_URL, else http://127.0.0.1:8080)
  --wait                drain, rebalance: follow the progress until it is done
  --force               remove: even while the server holds chunks (those with a copy
                        elsewhere are dropped and repair restores them)
  --json                servers: the gateway's JSON as it is

The token is read from ADMIN_TOKEN (never from the command line).`;
