-- Substring search over uid, display name and e-mail (the OCS user search) through
-- a trigram index, kept in step with the users table by triggers.
CREATE VIRTUAL TABLE users_search USING fts5(
    uid, display_name, email,
    content = 'users', content_rowid = 'rowid', tokenize = 'trigram'
);
INSERT INTO users_search (users_search) VALUES ('rebuild');
CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_search (rowid, uid, display_name, email)
    VALUES (new.rowid, new.uid, new.display_name, new.email);
END;
CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_search (users_search, rowid, uid, display_name, email)
    VALUES ('delete', old.rowid, old.uid, old.display_name, old.email);
END;
CREATE TRIGGER users_search_update AFTER UPDATE OF uid, display_name, email ON users BEGIN
    INSERT INTO users_search (users_search, rowid, uid, display_name, email)
    VALUES ('delete', old.rowid, old.uid, old.display_name, old.email);
    INSERT INTO users_search (rowid, uid, display_name, email)
    VALUES (new.rowid, new.uid, new.display_name, new.email);
END;
