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
    version: 3,
    name: 'S3 buckets, objects and multipart uploads',
    sql: `
      -- An S3 object or part is stored exactly like a file (chunks, replicas: repair, scrub and
      -- cleanup see no difference); kind keeps them out of the file API.
      ALTER TABLE files ADD COLUMN kind text NOT NULL DEFAULT 'file' CHECK (kind IN ('file', 'object', 'part'));
      DROP INDEX files_listing_idx;
      CREATE INDEX files_listing_idx ON files (created_at DESC, id DESC) WHERE kind = 'file';

      CREATE TABLE s3_buckets (
        name text PRIMARY KEY,
        owner text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );

      -- Keys compare as bytes (COLLATE "C" on UTF-8 is code-point order, which is UTF-8 byte
      -- order): the order S3 lists in, served by the primary key.
      CREATE TABLE s3_objects (
        bucket text NOT NULL REFERENCES s3_buckets (name),
        key text COLLATE "C" NOT NULL,
        file_id uuid NOT NULL UNIQUE REFERENCES files (id) ON DELETE CASCADE,
        etag text NOT NULL,
        size bigint NOT NULL CHECK (size >= 0),
        content_type text,
        content_encoding text,
        content_disposition text,
        content_language text,
        cache_control text,
        expires text,
        user_metadata jsonb NOT NULL DEFAULT '{}',
        checksum_algorithm text,
        checksum_value text,
        checksum_type text CHECK (checksum_type IN ('FULL_OBJECT', 'COMPOSITE')),
        last_modified timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (bucket, key)
      );

      -- Upload ids begin with the creation time in hex, so (key, upload_id) is S3's listing
      -- order: by key, then oldest upload first.
      CREATE TABLE s3_multipart_uploads (
        upload_id text COLLATE "C" PRIMARY KEY,
        bucket text NOT NULL REFERENCES s3_buckets (name),
        key text COLLATE "C" NOT NULL,
        owner text NOT NULL,
        initiated_at timestamptz NOT NULL DEFAULT now(),
        -- What the object gets on completion (content headers, user metadata).
        metadata jsonb NOT NULL,
        checksum_algorithm text,
        checksum_type text CHECK (checksum_type IN ('FULL_OBJECT', 'COMPOSITE'))
      );
      CREATE INDEX s3_multipart_uploads_listing_idx ON s3_multipart_uploads (bucket, key, upload_id);
      CREATE INDEX s3_multipart_uploads_age_idx ON s3_multipart_uploads (initiated_at);

      CREATE TABLE s3_parts (
        upload_id text NOT NULL REFERENCES s3_multipart_uploads (upload_id) ON DELETE CASCADE,
        part_number integer NOT NULL CHECK (part_number BETWEEN 1 AND 10000),
        file_id uuid NOT NULL UNIQUE REFERENCES files (id) ON DELETE CASCADE,
        size bigint NOT NULL CHECK (size >= 0),
        etag text NOT NULL,
        checksum_value text,
        last_modified timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (upload_id, part_number)
      );

      -- When an object or part row lets go of its file (replaced, deleted, or its upload
      -- dropped), the file goes too and the replicas of the chunks it still holds move to
      -- pending deletes, as deleteFile does. A trigger, not the statements themselves, because
      -- it sees the row actually replaced even when writers race on one key, which a
      -- statement's snapshot does not. (Chunks moved to another file on completion are no
      -- longer the part's, so they stay.)
      CREATE FUNCTION s3_release_file() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' OR OLD.file_id IS DISTINCT FROM NEW.file_id THEN
          INSERT INTO pending_deletes (chunk_id, server_id)
            SELECT r.chunk_id::text, r.server_id
            FROM chunks c JOIN chunk_replicas r ON r.chunk_id = c.chunk_id
            WHERE c.file_id = OLD.file_id
            ON CONFLICT DO NOTHING;
          DELETE FROM files WHERE id = OLD.file_id;
        END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER s3_objects_release_file AFTER UPDATE OF file_id OR DELETE ON s3_objects
        FOR EACH ROW EXECUTE FUNCTION s3_release_file();
      CREATE TRIGGER s3_parts_release_file AFTER UPDATE OF file_id OR DELETE ON s3_parts
        FOR EACH ROW EXECUTE FUNCTION s3_release_file();

      -- Lets one statement give up as a whole, with a reason the store maps to a result
      -- ('no-bucket', 'no-upload', 'conflict'...): a guard in a WITH clause.
      CREATE FUNCTION ringstore_abort(reason text) RETURNS boolean LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'ringstore_abort:%', reason USING ERRCODE = 'RS001';
      END $$;
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
