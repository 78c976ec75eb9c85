"""The SQLite schema, as numbered migrations applied in order at start (PRAGMA user_version)."""

from __future__ import annotations

# Each entry moves the schema from version N to N + 1. Never edit a released entry: add one.
MIGRATIONS: tuple[str, ...] = (
    # 1: what the publish state machine needs.
    """
    CREATE TABLE meta (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE posts (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        path TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        title TEXT NOT NULL,
        excerpt TEXT NOT NULL,
        categories TEXT NOT NULL,          -- JSON list
        tags TEXT NOT NULL,                -- JSON list
        date TEXT NOT NULL,                -- ISO 8601 with the post's own offset
        date_utc TEXT NOT NULL,            -- the same instant in UTC, for sorting
        date_source TEXT NOT NULL,
        is_published INTEGER NOT NULL,     -- the front matter's flag
        url TEXT NOT NULL,
        image_url TEXT,
        image_path TEXT,
        image_file TEXT,
        notes TEXT NOT NULL,               -- JSON list
        state TEXT NOT NULL,               -- published, scheduled, unpublished, gone
        first_seen TEXT NOT NULL,
        is_alerted INTEGER NOT NULL,       -- its one first alert is spent
        pushed_at TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX posts_by_state_date ON posts (state, date_utc);
    CREATE TABLE refused (
        path TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        line INTEGER,
        first_seen TEXT NOT NULL,
        is_notified INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 2: delivery: pushes, targets and their subscriptions, and the outbox of (push, target).
    """
    CREATE TABLE pushes (
        id INTEGER PRIMARY KEY,
        post_id INTEGER NOT NULL REFERENCES posts (id),
        kind TEXT NOT NULL,                -- alert, repost, correction, retraction
        status TEXT NOT NULL,              -- pending (not fanned out), fanned, cancelled
        only_target INTEGER REFERENCES targets (id),  -- `/repost KEY here`
        created_at TEXT NOT NULL,
        fanned_at TEXT
    );
    CREATE INDEX pushes_by_status ON pushes (status, id);
    CREATE INDEX pushes_by_post ON pushes (post_id, kind, created_at);
    CREATE TABLE targets (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,            -- console, telegram, discord
        address TEXT NOT NULL,             -- chat or channel id
        kind TEXT NOT NULL DEFAULT '',     -- private, group, supergroup, channel, …
        title TEXT NOT NULL DEFAULT '',
        language TEXT,
        options TEXT NOT NULL DEFAULT '{}',  -- JSON: thread id, silent, link preview, role …
        is_static INTEGER NOT NULL DEFAULT 0,  -- from the config, not a command
        is_active INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        UNIQUE (platform, address)
    );
    CREATE TABLE subscriptions (
        target_id INTEGER NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
        category TEXT NOT NULL DEFAULT '',   -- '' is every post
        PRIMARY KEY (target_id, category)
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        push_id INTEGER NOT NULL REFERENCES pushes (id),
        target_id INTEGER NOT NULL REFERENCES targets (id),
        status TEXT NOT NULL,  -- pending, sending, sent, retry, dead, rejected, cancelled
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        message_ref TEXT,                  -- JSON: what the platform needs to edit or delete it
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        sent_at TEXT,
        UNIQUE (push_id, target_id)
    );
    CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
    CREATE INDEX outbox_by_target ON outbox (target_id, status, id);
    """,
    # 3: typed target options and message references, in columns of their own instead of JSON.
    """
    ALTER TABLE targets ADD COLUMN thread_id INTEGER;            -- Telegram: a forum topic
    ALTER TABLE targets ADD COLUMN is_silent INTEGER NOT NULL DEFAULT 0;     -- Telegram
    ALTER TABLE targets ADD COLUMN link_preview INTEGER NOT NULL DEFAULT 1;  -- Telegram
    ALTER TABLE targets ADD COLUMN mention_role INTEGER;         -- Discord: the role pinged
    ALTER TABLE targets ADD COLUMN crosspost INTEGER NOT NULL DEFAULT 0;     -- Discord
    UPDATE targets SET
        thread_id = json_extract(options, '$.thread_id'),
        is_silent = coalesce(json_extract(options, '$.silent'), 0),
        link_preview = coalesce(json_extract(options, '$.link_preview'), 1),
        mention_role = json_extract(options, '$.mention_role'),
        crosspost = coalesce(json_extract(options, '$.crosspost'), 0)
    WHERE json_valid(options);
    ALTER TABLE targets DROP COLUMN options;
    ALTER TABLE outbox ADD COLUMN ref_address TEXT;  -- where the sent message is
    ALTER TABLE outbox ADD COLUMN ref_id INTEGER;    -- its id there
    ALTER TABLE outbox ADD COLUMN ref_photo TEXT;    -- Telegram: the image it shows; NULL: text
    -- A Telegram message_id was packed as "id:photo:image" or "id:text:"; the others are "id".
    UPDATE outbox SET
        ref_address = old.address,
        ref_id = CAST(CASE WHEN old.colon > 0 THEN substr(old.packed, 1, old.colon - 1)
                      ELSE old.packed END AS INTEGER),
        ref_photo = CASE WHEN old.colon > 0 AND substr(old.packed, old.colon + 1, 6) = 'photo:'
                    THEN substr(old.packed, old.colon + 7) END
    FROM (
        SELECT id, json_extract(message_ref, '$.address') AS address,
               CAST(json_extract(message_ref, '$.message_id') AS TEXT) AS packed,
               instr(CAST(json_extract(message_ref, '$.message_id') AS TEXT), ':') AS colon
        FROM outbox WHERE message_ref IS NOT NULL AND json_valid(message_ref)
    ) AS old
    WHERE outbox.id = old.id;
    ALTER TABLE outbox DROP COLUMN message_ref;
    """,
    # 4: an archive of any size. The files as last read (a restart reads only what changed),
    # each post's categories folded for indexed lookups, and the indexes the commands use.
    """
    CREATE TABLE files (
        path TEXT PRIMARY KEY,             -- under posts_dir, '/'-separated
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        inode INTEGER NOT NULL,
        key TEXT                           -- the post key it holds (or claims twice); NULL: refused
    );
    CREATE TABLE post_categories (
        post_id INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
        folded TEXT NOT NULL,              -- NFC, case-folded: what commands match
        name TEXT NOT NULL,                -- as the post writes it
        PRIMARY KEY (post_id, folded)
    );
    INSERT OR IGNORE INTO post_categories (post_id, folded, name)
        SELECT posts.id, sokbo_fold(c.value), c.value FROM posts, json_each(posts.categories) c;
    CREATE INDEX post_categories_by_name ON post_categories (folded, post_id);
    DROP INDEX posts_by_state_date;
    CREATE INDEX posts_by_state_date ON posts (state, date_utc, first_seen, key);
    CREATE INDEX posts_by_path ON posts (path);
    CREATE INDEX pushes_by_kind ON pushes (kind, created_at);
    """,
    # 5: how many chats get pushes, counted from an index: each target keeps its number of
    # subscription rows, kept by triggers whatever statement adds or removes one.
    """
    ALTER TABLE targets ADD COLUMN subscribed INTEGER NOT NULL DEFAULT 0;
    UPDATE targets SET subscribed = (SELECT COUNT(*) FROM subscriptions s WHERE s.target_id = id);
    CREATE TRIGGER subscription_added AFTER INSERT ON subscriptions BEGIN
        UPDATE targets SET subscribed = subscribed + 1 WHERE id = NEW.target_id;
    END;
    CREATE TRIGGER subscription_removed AFTER DELETE ON subscriptions BEGIN
        UPDATE targets SET subscribed = subscribed - 1 WHERE id = OLD.target_id;
    END;
    CREATE TRIGGER subscription_moved AFTER UPDATE OF target_id ON subscriptions BEGIN
        UPDATE targets SET subscribed = subscribed - 1 WHERE id = OLD.target_id;
        UPDATE targets SET subscribed = subscribed + 1 WHERE id = NEW.target_id;
    END;
    CREATE INDEX targets_getting_pushes ON targets (id) WHERE is_active = 1 AND subscribed > 0;
    """,
    # 6: how many posts are in each state, kept by triggers: the status summary reads four
    # rows instead of counting the whole archive.
    """
    CREATE TABLE post_counts (
        state TEXT PRIMARY KEY,
        n INTEGER NOT NULL
    );
    INSERT INTO post_counts (state, n) SELECT state, COUNT(*) FROM posts GROUP BY state;
    CREATE TRIGGER post_added AFTER INSERT ON posts BEGIN
        INSERT INTO post_counts (state, n) VALUES (NEW.state, 1)
            ON CONFLICT (state) DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER post_removed AFTER DELETE ON posts BEGIN
        UPDATE post_counts SET n = n - 1 WHERE state = OLD.state;
    END;
    CREATE TRIGGER post_moved AFTER UPDATE OF state ON posts WHEN OLD.state != NEW.state BEGIN
        UPDATE post_counts SET n = n - 1 WHERE state = OLD.state;
        INSERT INTO post_counts (state, n) VALUES (NEW.state, 1)
            ON CONFLICT (state) DO UPDATE SET n = n + 1;
    END;
    """,
    # 7: a first alert may wait for its post's page to answer (status 'waiting', before
    # 'pending'); what admins were told of it is kept, so a restart does not tell them again.
    """
    ALTER TABLE pushes ADD COLUMN told TEXT;  -- rebuild, timeout
    """,
    # 8: why each post was or was not pushed: the last decision about it, as logged (the
    # first run's archive is left out: one line in the log says it for all of them).
    """
    ALTER TABLE posts ADD COLUMN verdict TEXT;
    ALTER TABLE posts ADD COLUMN reason TEXT;
    ALTER TABLE posts ADD COLUMN decided_at TEXT;
    CREATE INDEX posts_by_decision ON posts (decided_at) WHERE decided_at IS NOT NULL;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
