//! SQL of the barrier table per dialect: DDL, insert-ignore and the reason query
//! (PROTOCOL.md §7.1, §7.3).

use crate::error::{Error, ErrorKind, Result};
use std::fmt;

/// The SQL dialect of the database that holds the barrier table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// MySQL and MariaDB (`?` placeholders, `insert ignore`).
    Mysql,
    /// PostgreSQL (`$1`.. placeholders, `on conflict do nothing`).
    Postgres,
    /// SQLite (`?` placeholders, `on conflict do nothing`, SQLite 3.24 or later).
    Sqlite,
}

impl Dialect {
    /// Every dialect.
    pub const ALL: [Dialect; 3] = [Dialect::Mysql, Dialect::Postgres, Dialect::Sqlite];

    /// The stable name: `mysql`, `postgres` or `sqlite`.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Mysql => "mysql",
            Dialect::Postgres => "postgres",
            Dialect::Sqlite => "sqlite",
        }
    }

    /// Parses a dialect name, case-insensitively: `mysql`, `mariadb`, `postgres`,
    /// `postgresql`, `sqlite` or `sqlite3`.
    pub fn parse(name: &str) -> Result<Dialect> {
        match name.to_ascii_lowercase().as_str() {
            "mysql" | "mariadb" => Ok(Dialect::Mysql),
            "postgres" | "postgresql" => Ok(Dialect::Postgres),
            "sqlite" | "sqlite3" => Ok(Dialect::Sqlite),
            _ => Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("unknown barrier dialect {name:?}"),
            )),
        }
    }

    /// The default barrier table of this dialect: `dtm_barrier.barrier`, or `barrier` for
    /// SQLite, which has no schemas (a qualified name there means an attached database).
    pub fn default_table(self) -> &'static str {
        match self {
            Dialect::Mysql | Dialect::Postgres => DEFAULT_TABLE,
            Dialect::Sqlite => DEFAULT_SQLITE_TABLE,
        }
    }

    /// The placeholder of the 1-based parameter `n`.
    fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            Dialect::Mysql | Dialect::Sqlite => "?".to_owned(),
        }
    }

    fn placeholders(self, count: usize) -> String {
        (1..=count)
            .map(|n| self.placeholder(n))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// DTM's barrier table, used by MySQL and PostgreSQL.
pub const DEFAULT_TABLE: &str = "dtm_barrier.barrier";

/// The default barrier table on SQLite.
pub const DEFAULT_SQLITE_TABLE: &str = "barrier";

/// One SQL statement for the host to run: the text, with placeholders of the dialect, and
/// its parameters in order. Every parameter is a string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Statement {
    /// SQL text with `?` (MySQL, SQLite) or `$n` (PostgreSQL) placeholders.
    pub sql: String,
    /// Values of the placeholders, in order.
    pub params: Vec<String>,
}

/// Where the barrier rows live: a dialect and a table name.
///
/// The name is spliced into SQL text, so it must be one or two plain identifiers
/// (`[A-Za-z_][A-Za-z0-9_]*`, optionally `schema.table`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BarrierTable {
    dialect: Dialect,
    name: String,
}

impl BarrierTable {
    /// The dialect's default table ([`Dialect::default_table`]).
    pub fn new(dialect: Dialect) -> BarrierTable {
        BarrierTable {
            dialect,
            name: dialect.default_table().to_owned(),
        }
    }

    /// A table with a custom name; `InvalidArgument` unless the name is `table` or
    /// `schema.table` made of plain identifiers.
    pub fn with_name(dialect: Dialect, name: &str) -> Result<BarrierTable> {
        let parts: Vec<&str> = name.split('.').collect();
        if parts.len() > 2 || !parts.iter().all(|p| is_identifier(p)) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("invalid barrier table name {name:?}"),
            ));
        }
        Ok(BarrierTable {
            dialect,
            name: name.to_owned(),
        })
    }

    /// The dialect.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The table name as written in SQL.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn schema_and_table(&self) -> (Option<&str>, &str) {
        match self.name.split_once('.') {
            Some((schema, table)) => (Some(schema), table),
            None => (None, &self.name),
        }
    }

    /// Statements that create the table (and its schema, sequence and indexes) when missing.
    /// Running them again is harmless.
    ///
    /// MySQL: DTM's layout with `UNIQUE(gid, branch_id, op, barrier_id)`. PostgreSQL: schema,
    /// sequence `<table>_seq`, unique constraint `uniq_barrier` (`uniq_<table>` for another
    /// table name, since constraint names are unique per schema). SQLite: the same columns
    /// and unique key.
    pub fn ddl(&self) -> Vec<String> {
        let name = &self.name;
        let (schema, table) = self.schema_and_table();
        let mut out = Vec::new();
        match self.dialect {
            Dialect::Mysql => {
                if let Some(schema) = schema {
                    out.push(format!(
                        "create database if not exists {schema} default character set utf8mb4"
                    ));
                }
                out.push(format!(
                    "create table if not exists {name} (\n\
                     \x20 id bigint not null auto_increment primary key,\n\
                     \x20 trans_type varchar(45) default '',\n\
                     \x20 gid varchar(128) default '',\n\
                     \x20 branch_id varchar(128) default '',\n\
                     \x20 op varchar(45) default '',\n\
                     \x20 barrier_id varchar(45) default '',\n\
                     \x20 reason varchar(45) default '' comment 'the op that inserted the row',\n\
                     \x20 create_time datetime default now(),\n\
                     \x20 update_time datetime default now(),\n\
                     \x20 key (create_time),\n\
                     \x20 key (update_time),\n\
                     \x20 unique key (gid, branch_id, op, barrier_id)\n\
                     )"
                ));
            }
            Dialect::Postgres => {
                if let Some(schema) = schema {
                    out.push(format!("create schema if not exists {schema}"));
                }
                let constraint = if table == "barrier" {
                    "uniq_barrier".to_owned()
                } else {
                    format!("uniq_{table}")
                };
                out.push(format!("create sequence if not exists {name}_seq"));
                out.push(format!(
                    "create table if not exists {name} (\n\
                     \x20 id bigint not null default nextval('{name}_seq'),\n\
                     \x20 trans_type varchar(45) default '',\n\
                     \x20 gid varchar(128) default '',\n\
                     \x20 branch_id varchar(128) default '',\n\
                     \x20 op varchar(45) default '',\n\
                     \x20 barrier_id varchar(45) default '',\n\
                     \x20 reason varchar(45) default '',\n\
                     \x20 create_time timestamp(0) with time zone default null,\n\
                     \x20 update_time timestamp(0) with time zone default null,\n\
                     \x20 primary key (id),\n\
                     \x20 constraint {constraint} unique (gid, branch_id, op, barrier_id)\n\
                     )"
                ));
            }
            Dialect::Sqlite => {
                out.push(format!(
                    "create table if not exists {name} (\n\
                     \x20 id integer primary key autoincrement,\n\
                     \x20 trans_type varchar(45) default '',\n\
                     \x20 gid varchar(128) default '',\n\
                     \x20 branch_id varchar(128) default '',\n\
                     \x20 op varchar(45) default '',\n\
                     \x20 barrier_id varchar(45) default '',\n\
                     \x20 reason varchar(45) default '',\n\
                     \x20 create_time datetime default current_timestamp,\n\
                     \x20 update_time datetime default current_timestamp,\n\
                     \x20 unique (gid, branch_id, op, barrier_id)\n\
                     )"
                ));
                // SQLite puts the schema on the index name, never on the indexed table.
                let prefix = schema.map(|s| format!("{s}.")).unwrap_or_default();
                for column in ["create_time", "update_time"] {
                    out.push(format!(
                        "create index if not exists {prefix}{table}_{column} on {table} ({column})"
                    ));
                }
            }
        }
        out
    }

    /// The insert-ignore of one barrier row: affects 1 row when the row is new, 0 when a row
    /// with the same `(gid, branch_id, op, barrier_id)` exists.
    pub fn insert_ignore_sql(&self) -> String {
        let name = &self.name;
        let values = self.dialect.placeholders(6);
        let columns = "trans_type, gid, branch_id, op, barrier_id, reason";
        match self.dialect {
            Dialect::Mysql => format!("insert ignore into {name} ({columns}) values ({values})"),
            Dialect::Postgres | Dialect::Sqlite => format!(
                "insert into {name} ({columns}) values ({values}) \
                 on conflict (gid, branch_id, op, barrier_id) do nothing"
            ),
        }
    }

    /// The query of the `reason` of one barrier row, by `(gid, branch_id, op, barrier_id)`.
    pub fn select_reason_sql(&self) -> String {
        let d = self.dialect;
        format!(
            "select reason from {} where gid = {} and branch_id = {} and op = {} and barrier_id = {}",
            self.name,
            d.placeholder(1),
            d.placeholder(2),
            d.placeholder(3),
            d.placeholder(4)
        )
    }

    /// The insert-ignore statement of one row; `None` when `op` is empty (nothing to insert,
    /// which counts as 0 affected rows).
    pub(crate) fn insert_ignore(&self, row: Row<'_>) -> Option<Statement> {
        (!row.op.is_empty()).then(|| self.insert_ignore_always(row))
    }

    /// The insert-ignore statement of one row.
    pub(crate) fn insert_ignore_always(&self, row: Row<'_>) -> Statement {
        Statement {
            sql: self.insert_ignore_sql(),
            params: vec![
                row.trans_type.to_owned(),
                row.gid.to_owned(),
                row.branch_id.to_owned(),
                row.op.to_owned(),
                row.barrier_id.to_owned(),
                row.reason.to_owned(),
            ],
        }
    }

    /// The reason query of one row.
    pub(crate) fn select_reason(&self, row: Row<'_>) -> Statement {
        Statement {
            sql: self.select_reason_sql(),
            params: vec![
                row.gid.to_owned(),
                row.branch_id.to_owned(),
                row.op.to_owned(),
                row.barrier_id.to_owned(),
            ],
        }
    }
}

/// The columns of one barrier row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row<'a> {
    pub trans_type: &'a str,
    pub gid: &'a str,
    pub branch_id: &'a str,
    pub op: &'a str,
    pub barrier_id: &'a str,
    pub reason: &'a str,
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        assert_eq!(BarrierTable::new(Dialect::Sqlite).name(), "barrier");
        assert_eq!(
            BarrierTable::new(Dialect::Postgres).name(),
            "dtm_barrier.barrier"
        );
        assert!(BarrierTable::with_name(Dialect::Mysql, "a.b").is_ok());
        for bad in ["", "a.b.c", "a;drop", "1a", "a b", "a."] {
            let err = BarrierTable::with_name(Dialect::Mysql, bad).expect_err(bad);
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        }
    }

    #[test]
    fn placeholders() {
        let pg = BarrierTable::new(Dialect::Postgres);
        assert!(pg.insert_ignore_sql().contains("($1, $2, $3, $4, $5, $6)"));
        assert!(pg.select_reason_sql().ends_with("barrier_id = $4"));
        let my = BarrierTable::new(Dialect::Mysql);
        assert!(my.insert_ignore_sql().starts_with("insert ignore into"));
    }

    #[test]
    fn dialect_names() {
        for d in Dialect::ALL {
            assert_eq!(Dialect::parse(d.as_str()).expect("parses"), d);
        }
        assert_eq!(Dialect::parse("MariaDB").expect("parses"), Dialect::Mysql);
        assert!(Dialect::parse("mssql").is_err());
    }
}
