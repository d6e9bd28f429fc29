/**
 * The schema, as an ordered list of versioned migrations shared by PostgreSQL and PGlite.
 * Append new versions; never edit one that has shipped.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE storage_servers (
        id text PRIMARY KEY,
        address text NOT NULL,
        joined_at timestamptz NOT NULL DEFAULT now(),
        last_heartbeat_at timestamptz NOT NULL DEFAULT now(),
        available_space bigint,
        total_space bigint
      );

      -- Completed files only: an upload in flight lives in upload_sessions.
      CREATE TABLE files (
        id uuid PRIMARY KEY,
        filename text NOT NULL,
        content_type text NOT NULL,
        size bigint NOT NULL CHECK (size >= 0),
        checksum text NOT NULL,
        status text NOT NULL DEFAULT 'completed' CHECK (status = 'completed'),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX files_listing_idx ON files (created_at DESC, id DESC);

      CREATE TABLE chunks (
        file_id uuid NOT NULL REFERENCES files (id) ON DELETE CASCADE,
        chunk_number integer NOT NULL,
        chunk_id uuid NOT NULL UNIQUE,
        "offset" bigint NOT NULL,
        size bigint NOT NULL CHECK (size >= 0),
        checksum text NOT NULL,
        PRIMARY KEY (file_id, chunk_number)
      );

      -- The primary key (chunk_id first) serves per-chunk lookups and the repair scan.
      CREATE TABLE chunk_replicas (
        chunk_id uuid NOT NULL REFERENCES chunks (chunk_id) ON DELETE CASCADE,
        server_id text NOT NULL,
        status text NOT NULL DEFAULT 'stored' CHECK (status IN ('stored', 'corrupt')),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (chunk_id, server_id)
      );
      CREATE INDEX chunk_replicas_server_idx ON chunk_replicas (server_id);

      CREATE TABLE upload_sessions (
        file_id uuid PRIMARY KEY,
        filename text NOT NULL,
        content_type text NOT NULL,
        gateway_id text NOT NULL,
        started_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL
      );
      CREATE INDEX upload_sessions_expiry_idx ON upload_sessions (expires_at);

      -- No foreign key: the chunk row is gone by the time its copies are deleted, and orphans
      -- found on a server's disk may carry any id that server reports.
      CREATE TABLE pending_deletes (
        chunk_id text NOT NULL,
        server_id text NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (chunk_id, server_id)
      );
      CREATE INDEX pending_deletes_due_idx ON pending_deletes (next_attempt_at);
    `,
  },
  {
    version: 2,
    name: 'scrub cursors and replicas by server in chunk order',
    sql: `
      -- Scrub walks a server's chunks in id order and checks each recorded replica is there.
      CREATE INDEX chunk_replicas_server_chunk_idx ON chunk_replicas (server_id, chunk_id);
      DROP INDEX chunk_replicas_server_idx;

      -- Where scrub stopped on each server, so a restart or another gateway carries on there.
      CREATE TABLE scrub_cursors (
        server_id text PRIMARY KEY,
        cursor text NOT NULL,
        passes integer NOT NULL CHECK (passes >= 0),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 4,
    name: 'server membership (drain, remove) and replica moves',
    sql: `
      -- What an operator decided for each server, apart from whether it is up: active servers
      -- take new chunks; a draining one gives its chunks away, a drained one holds none; a
      -- removed one is out of the cluster (kept as a tombstone, so its heartbeats are refused).
      ALTER TABLE storage_servers
        ADD COLUMN membership text NOT NULL DEFAULT 'active'
          CHECK (membership IN ('active', 'draining', 'drained', 'removed')),
        ADD COLUMN membership_changed_at timestamptz,
        -- What it held when its drain began: progress is measured against it.
        ADD COLUMN drain_chunks bigint,
        ADD COLUMN drain_bytes bigint;

      -- Pending deletes by server: how many copies a server still has to give up.
      CREATE INDEX pending_deletes_server_idx ON pending_deletes (server_id);

      -- The last run of each job that moves replicas (drain, rebalance), so every gateway shows
      -- the progress of the one that runs it.
      CREATE TABLE move_runs (
        job text PRIMARY KEY,
        gateway_id text NOT NULL,
        started_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        outcome text,
        report jsonb NOT NULL
      );
    `,
  },
];
