-- A portal.db as Offerdesk made it before migrations (commit 6430378, offerdesk/people/db.py), dumped with
-- sqlite3's iterdump: three users (passwords "correct horse battery", "ada-long-password", "sam-long-password"),
-- a live and a revoked API token, a session (expiry moved to 2099), audit records, a throttled failure and two
-- notices (one mailed, one refused for good). tests/test_database.py upgrades it and checks everything is kept.
BEGIN TRANSACTION;
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    round_id TEXT,
    partner TEXT,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL
);
INSERT INTO "audit" VALUES(1,'2026-12-04T18:47:21.280600+00:00','sam','staff','decide an escalation','r1','JP','done','approve at 15%');
INSERT INTO "audit" VALUES(2,'2026-12-04T18:47:21.286441+00:00','kenji','negotiator','read offer','r1','EU','not found','');
INSERT INTO "audit" VALUES(3,'2026-12-04T18:47:21.301331+00:00','(unknown)','-','sign in',NULL,NULL,'refused: bad password','from 192.0.2.7');
CREATE TABLE notices (
    key TEXT PRIMARY KEY,
    user TEXT NOT NULL COLLATE NOCASE,
    kind TEXT NOT NULL,
    round_id TEXT NOT NULL,
    partner TEXT NOT NULL,
    subject TEXT NOT NULL,
    text TEXT NOT NULL,
    link TEXT NOT NULL,
    created_at TEXT NOT NULL,
    lease_until TEXT,
    lease_holder TEXT,
    lease_attempt INTEGER,
    mailed_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    mail_error TEXT,
    mail_final INTEGER NOT NULL DEFAULT 0
);
INSERT INTO "notices" VALUES('offer/r1/JP@abcd/deficient/1/kenji','Kenji','deficient','r1','JP','Japan''s offer in r1 is deficient','Dear Kenji,
fix it.','http://portal/rounds/r1/offers/JP','2026-11-23T12:00:00+00:00',NULL,NULL,NULL,'2026-12-04T18:47:21.356591+00:00',0,NULL,0);
INSERT INTO "notices" VALUES('offer/r1/JP@abcd/letter_ready/2/kenji','Kenji','letter_ready','r1','JP','The letter for Japan in r1 is ready','Dear Kenji,
read it.','http://portal/rounds/r1/offers/JP','2026-11-24T09:30:00+00:00',NULL,NULL,NULL,NULL,0,'550 no such mailbox',1);
CREATE TABLE sessions (
    id_sha256 TEXT PRIMARY KEY,
    user TEXT NOT NULL COLLATE NOCASE REFERENCES users(name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    flash TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
INSERT INTO "sessions" VALUES('c9988b05ac52d55948145d45d3ae8d1c2be1aa87688b1896262798db950feb12','Kenji','Gn4ZFdeRJJqlivIVIj38R5Eqj-yao-5V_tCaBKg79Hk',NULL,'2026-12-04T18:47:21.256260+00:00','2099-12-05T06:47:21.256260+00:00');
CREATE TABLE signin_failures (
    key TEXT NOT NULL,
    at TEXT NOT NULL
);
INSERT INTO "signin_failures" VALUES('account:ada','2026-12-04T18:47:21.308457+00:00');
INSERT INTO "signin_failures" VALUES('address:192.0.2.7','2026-12-04T18:47:21.308457+00:00');
CREATE TABLE tokens (
    token_id TEXT PRIMARY KEY,
    user TEXT NOT NULL COLLATE NOCASE REFERENCES users(name) ON DELETE CASCADE,
    label TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at TEXT
);
INSERT INTO "tokens" VALUES('0e1cc0d79a0a','Kenji','upload script','86d975ecd26980a7e0368e0b999021423a70097dcfc2d883ee14c16b55ea275c','2026-12-04T18:47:21.212269+00:00','sam',NULL);
INSERT INTO "tokens" VALUES('3c6f2ee87efc','sam','old','9b0c5fa369c6e769d7b545ee033bb48196eb8976da152eb00bd504c121178158','2026-12-04T18:47:21.223037+00:00','cli','2026-12-04T18:47:21.241294+00:00');
CREATE TABLE users (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    role TEXT NOT NULL,
    partner TEXT,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    email TEXT,
    reminders INTEGER NOT NULL DEFAULT 1
);
INSERT INTO "users" VALUES('Kenji','negotiator','JP','$argon2id$v=19$m=65536,t=3,p=4$D1614ghrZkcESvxZstD7lQ$Sj/HJlO7uoisK6oJmJZw2bqkkbgqNLi1QVkqEPNuVMA','2026-12-04T18:47:19.386001+00:00','kenji@example.jp',1);
INSERT INTO "users" VALUES('ada','reviewer',NULL,'$argon2id$v=19$m=65536,t=3,p=4$fuLcEQFeoIgsmlGbeUtTtA$+ISvDNhDP/8SAjHaJE2d8HAF8Z81sKzMhOpCOXU14KM','2026-12-04T18:47:20.182919+00:00',NULL,0);
INSERT INTO "users" VALUES('sam','staff',NULL,'$argon2id$v=19$m=65536,t=3,p=4$pfT2YnXHsRJcpRg3VZIl/g$uUFKhLcWgJusuCnsI3s72uP38ZIlNZR8HGNUjefqaGM','2026-12-04T18:47:20.723225+00:00','sam@example.org',1);
CREATE INDEX signin_failures_by_key ON signin_failures (key, at);
CREATE INDEX notices_by_user ON notices (user, created_at);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('audit',3);
COMMIT;
