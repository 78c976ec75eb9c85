-- A database as sokbo wrote it at schema 2, before target options and message references
-- had columns of their own: two posts pushed to a Telegram chat and a static Telegram
-- channel (with a forum topic, silent, no link preview) through python-telegram-bot, one
-- as a photo and one as text; a static Discord channel (role, crosspost) still pending.
-- Made by that version's own code with sqlite3's iterdump; tests/test_store.py loads it.
BEGIN TRANSACTION;
CREATE TABLE meta (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
INSERT INTO "meta" VALUES('last_scan','2026-11-30T09:00:00.000000+00:00');
INSERT INTO "meta" VALUES('baseline_at','2026-11-30T09:00:00.000000+00:00');
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
INSERT INTO "outbox" VALUES(1,1,1,'sent',1,'2026-12-03T14:41:27.950818+00:00',NULL,'{"platform": "telegram", "address": "111", "message_id": "1:photo:https://img.example.com/a.jpg"}','2026-12-03T14:41:27.950818+00:00','2026-12-03T14:41:27.969613+00:00','2026-12-03T14:41:27.969613+00:00');
INSERT INTO "outbox" VALUES(2,1,2,'sent',1,'2026-12-03T14:41:27.950818+00:00',NULL,'{"platform": "telegram", "address": "-1001234", "message_id": "2:photo:https://img.example.com/a.jpg"}','2026-12-03T14:41:27.950818+00:00','2026-12-03T14:41:28.002651+00:00','2026-12-03T14:41:28.002651+00:00');
INSERT INTO "outbox" VALUES(3,1,3,'pending',0,'2026-12-03T14:41:27.950818+00:00',NULL,NULL,'2026-12-03T14:41:27.950818+00:00','2026-12-03T14:41:27.950818+00:00',NULL);
INSERT INTO "outbox" VALUES(4,2,1,'sent',1,'2026-12-03T14:41:29.966165+00:00',NULL,'{"platform": "telegram", "address": "111", "message_id": "4:text:"}','2026-12-03T14:41:27.950818+00:00','2026-12-03T14:41:31.041320+00:00','2026-12-03T14:41:31.041320+00:00');
INSERT INTO "outbox" VALUES(5,2,2,'sent',1,'2026-12-03T14:41:27.950818+00:00',NULL,'{"platform": "telegram", "address": "-1001234", "message_id": "3:text:"}','2026-12-03T14:41:27.950818+00:00','2026-12-03T14:41:31.004438+00:00','2026-12-03T14:41:31.004438+00:00');
INSERT INTO "outbox" VALUES(6,2,3,'pending',0,'2026-12-03T14:41:27.950818+00:00',NULL,NULL,'2026-12-03T14:41:27.950818+00:00','2026-12-03T14:41:27.950818+00:00',NULL);
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
INSERT INTO "posts" VALUES(1,'2026-11-30-photo','2026-11-30-photo.md','hash-2026-11-30-photo','사진 속보','Excerpt.','["정치"]','[]','2026-11-30T08:55:00+00:00','2026-11-30T08:55:00.000000+00:00','front_matter',1,'https://news.example.com/2026-11-30-photo/','https://img.example.com/a.jpg',NULL,NULL,'[]','published','2026-11-30T09:00:00.000000+00:00',1,'2026-11-30T09:00:00.000000+00:00','2026-11-30T09:00:00.000000+00:00');
INSERT INTO "posts" VALUES(2,'2026-11-30-text','2026-11-30-text.md','hash-2026-11-30-text','Text news','Excerpt.','["정치"]','[]','2026-11-30T08:55:00+00:00','2026-11-30T08:55:00.000000+00:00','front_matter',1,'https://news.example.com/2026-11-30-text/',NULL,NULL,NULL,'[]','published','2026-11-30T09:00:00.000000+00:00',1,'2026-11-30T09:00:00.000000+00:00','2026-11-30T09:00:00.000000+00:00');
CREATE TABLE pushes (
        id INTEGER PRIMARY KEY,
        post_id INTEGER NOT NULL REFERENCES posts (id),
        kind TEXT NOT NULL,                -- alert, repost, correction, retraction
        status TEXT NOT NULL,              -- pending (not fanned out), fanned, cancelled
        only_target INTEGER REFERENCES targets (id),  -- `/repost KEY here`
        created_at TEXT NOT NULL,
        fanned_at TEXT
    );
INSERT INTO "pushes" VALUES(1,1,'alert','fanned',NULL,'2026-11-30T09:00:00.000000+00:00','2026-12-03T14:41:27.950818+00:00');
INSERT INTO "pushes" VALUES(2,2,'alert','fanned',NULL,'2026-11-30T09:00:00.000000+00:00','2026-12-03T14:41:27.950818+00:00');
CREATE TABLE refused (
        path TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        line INTEGER,
        first_seen TEXT NOT NULL,
        is_notified INTEGER NOT NULL DEFAULT 0
    );
CREATE TABLE subscriptions (
        target_id INTEGER NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
        category TEXT NOT NULL DEFAULT '',   -- '' is every post
        PRIMARY KEY (target_id, category)
    );
INSERT INTO "subscriptions" VALUES(1,'');
INSERT INTO "subscriptions" VALUES(2,'정치');
INSERT INTO "subscriptions" VALUES(3,'');
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
INSERT INTO "targets" VALUES(1,'telegram','111','private','',NULL,'{}',0,1,'2026-11-30T09:00:00.000000+00:00');
INSERT INTO "targets" VALUES(2,'telegram','-1001234','channel','',NULL,'{"thread_id": 7, "silent": true, "link_preview": false}',1,1,'2026-11-30T09:00:00.000000+00:00');
INSERT INTO "targets" VALUES(3,'discord','998877665544332211','text','',NULL,'{"mention_role": 123456789012345678, "crosspost": true}',1,1,'2026-11-30T09:00:00.000000+00:00');
CREATE INDEX posts_by_state_date ON posts (state, date_utc);
CREATE INDEX pushes_by_status ON pushes (status, id);
CREATE INDEX pushes_by_post ON pushes (post_id, kind, created_at);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_by_target ON outbox (target_id, status, id);
PRAGMA user_version = 2;
COMMIT;
