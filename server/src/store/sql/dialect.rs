//! The SQL text of each statement, per database.
//!
//! Statements are written once with `?` placeholders and rewritten to `$n` for
//! PostgreSQL. Times are Unix seconds on the wire and DTM's `datetime` / `timestamptz`
//! columns in the tables, converted by the database on the way in and out, so the rows
//! stay readable by DTM and by people.

/// The database a SQL store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Mysql,
}

/// Unfinished statuses, as a SQL condition.
pub const UNFINISHED: &str = "status IN ('prepared','aborting','submitted')";

impl Dialect {
    /// The statement with this dialect's placeholders.
    pub fn sql(self, text: &str) -> String {
        match self {
            Dialect::Mysql => text.to_string(),
            Dialect::Postgres => {
                let mut out = String::with_capacity(text.len() + 16);
                let mut n = 0;
                for c in text.chars() {
                    if c == '?' {
                        n += 1;
                        out.push('$');
                        out.push_str(&n.to_string());
                    } else {
                        out.push(c);
                    }
                }
                out
            }
        }
    }

    /// A placeholder for a time given in Unix seconds.
    pub fn time_param(self) -> &'static str {
        match self {
            Dialect::Postgres => "to_timestamp(?)",
            Dialect::Mysql => "FROM_UNIXTIME(?)",
        }
    }

    /// A time column read back as Unix seconds.
    pub fn time_column(self, column: &str) -> String {
        match self {
            Dialect::Postgres => format!("CAST(EXTRACT(EPOCH FROM {column}) AS BIGINT)"),
            Dialect::Mysql => format!("CAST(UNIX_TIMESTAMP({column}) AS SIGNED)"),
        }
    }

    /// The schema file, run at start-up.
    pub fn schema(self) -> &'static str {
        match self {
            Dialect::Postgres => include_str!("../../../sqls/dtmx.storage.postgres.sql"),
            Dialect::Mysql => include_str!("../../../sqls/dtmx.storage.mysql.sql"),
        }
    }
}

/// The fixed statements of a store, prepared once per dialect.
pub struct Statements {
    pub dialect: Dialect,
    pub trans_columns: String,
    pub branch_columns: String,
    pub kv_columns: String,
    pub find_trans: String,
    pub find_branches: String,
    pub touch: String,
    pub lock_status: String,
    pub branch_keys: String,
    pub reset_next: String,
    pub kv_create: String,
    pub kv_update: String,
    pub kv_delete: String,
}

impl Statements {
    /// Builds every fixed statement for `dialect`.
    pub fn new(dialect: Dialect) -> Statements {
        let t = |c: &str| dialect.time_column(c);
        let tp = dialect.time_param();
        let trans_columns = format!(
            "id, gid, trans_type, status, query_prepared, protocol, {}, {}, {}, {}, options, \
             custom_data, next_cron_interval, {}, owner, ext_data, result, rollback_reason",
            t("create_time"),
            t("update_time"),
            t("finish_time"),
            t("rollback_time"),
            t("next_cron_time"),
        );
        let branch_columns = format!(
            "id, gid, url, bin_data, branch_id, op, status, {}, {}, {}, {}",
            t("create_time"),
            t("update_time"),
            t("finish_time"),
            t("rollback_time"),
        );
        let kv_columns = format!(
            "id, cat, k, v, version, {}, {}",
            t("create_time"),
            t("update_time"),
        );
        let s = |text: &str| dialect.sql(text);
        Statements {
            dialect,
            find_trans: s(&format!(
                "SELECT {trans_columns} FROM trans_global WHERE gid = ?"
            )),
            find_branches: s(&format!(
                "SELECT {branch_columns} FROM trans_branch_op WHERE gid = ? ORDER BY id"
            )),
            touch: s(&format!(
                "UPDATE trans_global SET next_cron_interval = ?, next_cron_time = {tp}, \
                 update_time = {tp} WHERE gid = ? AND status = ?"
            )),
            lock_status: s("SELECT status FROM trans_global WHERE gid = ? FOR UPDATE"),
            branch_keys: s("SELECT branch_id, op FROM trans_branch_op WHERE gid = ?"),
            reset_next: s(&format!(
                "UPDATE trans_global SET next_cron_time = {tp}, update_time = {tp} WHERE gid = ?"
            )),
            kv_create: s(&format!(
                "INSERT INTO kv (cat, k, v, version, create_time, update_time) \
                 VALUES (?, ?, ?, 1, {tp}, {tp}){}",
                match dialect {
                    Dialect::Postgres => " ON CONFLICT (cat, k) DO NOTHING",
                    Dialect::Mysql => "",
                }
            )),
            kv_update: s(&format!(
                "UPDATE kv SET v = ?, version = version + 1, update_time = {tp} \
                 WHERE cat = ? AND k = ? AND version = ?"
            )),
            kv_delete: s("DELETE FROM kv WHERE cat = ? AND k = ?"),
            trans_columns,
            branch_columns,
            kv_columns,
        }
    }

    /// A multi-row insert of `n` transactions; on PostgreSQL it skips gids that exist and
    /// returns `id, gid` of the rows it inserted.
    pub fn insert_trans(&self, n: usize) -> String {
        let tp = self.dialect.time_param();
        let row = format!("(?, ?, ?, ?, ?, {tp}, {tp}, {tp}, {tp}, ?, ?, ?, {tp}, ?, ?, ?, ?)");
        let rows = vec![row; n].join(", ");
        let tail = match self.dialect {
            Dialect::Postgres => " ON CONFLICT (gid) DO NOTHING RETURNING id, gid",
            Dialect::Mysql => "",
        };
        self.dialect.sql(&format!(
            "INSERT INTO trans_global (gid, trans_type, status, query_prepared, protocol, \
             create_time, update_time, finish_time, rollback_time, options, custom_data, \
             next_cron_interval, next_cron_time, owner, ext_data, result, rollback_reason) \
             VALUES {rows}{tail}"
        ))
    }

    /// One update of `n` branches of one transaction, applied only while the
    /// transaction's status is the one bound last. Parameters: for each of the status,
    /// update, finish and rollback columns, `(branch_id, op, value)` per branch; then the
    /// gid, `(branch_id, op)` per branch, the gid again and the status.
    pub fn update_branches(&self, n: usize) -> String {
        let tp = self.dialect.time_param();
        let case = |column: &str, value: &str| {
            let arms = vec![format!("WHEN branch_id = ? AND op = ? THEN {value}"); n].join(" ");
            format!("{column} = CASE {arms} ELSE {column} END")
        };
        let keys = vec!["(branch_id = ? AND op = ?)"; n].join(" OR ");
        self.dialect.sql(&format!(
            "UPDATE trans_branch_op SET {}, {}, {}, {} WHERE gid = ? AND ({keys}) AND EXISTS \
             (SELECT 1 FROM trans_global WHERE gid = ? AND status = ?)",
            case("status", "?"),
            case("update_time", tp),
            case("finish_time", tp),
            case("rollback_time", tp),
        ))
    }

    /// A multi-row insert of `n` branches.
    pub fn insert_branches(&self, n: usize) -> String {
        let tp = self.dialect.time_param();
        let row = format!("(?, ?, ?, ?, ?, ?, {tp}, {tp}, {tp}, {tp})");
        let rows = vec![row; n].join(", ");
        self.dialect.sql(&format!(
            "INSERT INTO trans_branch_op (gid, url, bin_data, branch_id, op, status, \
             create_time, update_time, finish_time, rollback_time) VALUES {rows}"
        ))
    }

    /// `?, ?, ...` with `n` placeholders (before dialect rewriting).
    pub fn marks(n: usize) -> String {
        vec!["?"; n].join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_placeholders_are_numbered() {
        assert_eq!(
            Dialect::Postgres.sql("a = ? AND b = to_timestamp(?)"),
            "a = $1 AND b = to_timestamp($2)"
        );
        assert_eq!(Dialect::Mysql.sql("a = ?"), "a = ?");
    }

    #[test]
    fn branch_updates_bind_fourteen_values_per_branch_and_three_more() {
        let s = Statements::new(Dialect::Postgres);
        let sql = s.update_branches(2);
        assert!(sql.contains("$31"), "{sql}");
        assert!(!sql.contains("$32"), "{sql}");
    }

    #[test]
    fn branch_inserts_have_one_group_per_row() {
        let s = Statements::new(Dialect::Postgres);
        let sql = s.insert_branches(2);
        assert!(sql.contains("$20"), "{sql}");
        assert!(!sql.contains("$21"), "{sql}");
    }
}
