-- dtmx (and DTM) store schema for MySQL and MariaDB. Idempotent: dtmx runs it at start-up
-- in the configured database (Store.Db), so an existing DTM database is used as it is.
-- `dtmx -r` drops the three tables first. One deliberate difference from DTM's file: bin_data
-- is a LONGBLOB (DTM: BLOB, 64 KiB), so payloads up to the HTTP body limit fit.
CREATE TABLE IF NOT EXISTS trans_global (
  id bigint(22) NOT NULL AUTO_INCREMENT,
  gid varchar(128) NOT NULL,
  trans_type varchar(45) NOT NULL,
  status varchar(12) NOT NULL,
  query_prepared varchar(1024) NOT NULL,
  protocol varchar(45) NOT NULL,
  create_time datetime DEFAULT NULL,
  update_time datetime DEFAULT NULL,
  finish_time datetime DEFAULT NULL,
  rollback_time datetime DEFAULT NULL,
  options varchar(1024) DEFAULT '',
  custom_data varchar(1024) DEFAULT '',
  next_cron_interval int(11) DEFAULT NULL,
  next_cron_time datetime DEFAULT NULL,
  owner varchar(128) NOT NULL DEFAULT '',
  ext_data TEXT,
  result varchar(1024) DEFAULT '',
  rollback_reason varchar(1024) DEFAULT '',
  PRIMARY KEY (id),
  UNIQUE KEY gid (gid),
  KEY owner (owner),
  KEY status_next_cron_time (status, next_cron_time)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
CREATE TABLE IF NOT EXISTS trans_branch_op (
  id bigint(22) NOT NULL AUTO_INCREMENT,
  gid varchar(128) NOT NULL,
  url varchar(1024) NOT NULL,
  data TEXT,
  bin_data LONGBLOB,
  branch_id varchar(128) NOT NULL,
  op varchar(45) NOT NULL,
  status varchar(45) NOT NULL,
  finish_time datetime DEFAULT NULL,
  rollback_time datetime DEFAULT NULL,
  create_time datetime DEFAULT NULL,
  update_time datetime DEFAULT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY gid_uniq (gid, branch_id, op)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
CREATE TABLE IF NOT EXISTS kv (
  id bigint(22) NOT NULL AUTO_INCREMENT,
  cat varchar(45) NOT NULL,
  k varchar(128) NOT NULL,
  v TEXT,
  version bigint(22) DEFAULT 1,
  create_time datetime DEFAULT NULL,
  update_time datetime DEFAULT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uniq_k (cat, k)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
