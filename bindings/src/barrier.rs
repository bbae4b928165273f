//! The barrier for hosts: tables by dialect name, and statements rendered in the parameter
//! style of the host's driver (`?`, `%s`, `$1`, `:1`), so every binding runs the same SQL.

use crate::error::{invalid, Result};
pub use dtmx::barrier::{
    check_back_result, Action, Barrier, BarrierCall, BarrierTable, Decision, Dialect, Guard,
    Ownership, QueryPrepared, RedisCall, RedisDecision, RedisQueryPrepared, Statement, Step,
    REDIS_EXPIRE_SECS,
};

/// How a driver writes placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamStyle {
    /// `?` (sqlite3, mysql2, PDO, JDBC).
    Qmark,
    /// `%s` (psycopg, PyMySQL, mysqlclient); a literal `%` is written `%%`.
    Format,
    /// `$1`, `$2`, ... (node-postgres, sqlx on PostgreSQL).
    Dollar,
    /// `:1`, `:2`, ... (DB-API `numeric`).
    Numeric,
}

impl ParamStyle {
    /// Parses a style name: `qmark`, `format` or `pyformat` (both `%s`), `dollar`,
    /// `numeric`.
    pub fn parse(name: &str) -> Result<ParamStyle> {
        match name {
            "qmark" => Ok(ParamStyle::Qmark),
            "format" | "pyformat" => Ok(ParamStyle::Format),
            "dollar" => Ok(ParamStyle::Dollar),
            "numeric" => Ok(ParamStyle::Numeric),
            _ => Err(invalid(format!("unsupported parameter style {name:?}"))),
        }
    }

    fn placeholder(self, n: usize) -> String {
        match self {
            ParamStyle::Qmark => "?".into(),
            ParamStyle::Format => "%s".into(),
            ParamStyle::Dollar => format!("${n}"),
            ParamStyle::Numeric => format!(":{n}"),
        }
    }
}

/// The table `name` (`None`: the dialect's default) of the dialect named `dialect`.
pub fn table(dialect: &str, name: Option<&str>) -> Result<BarrierTable> {
    let d = Dialect::parse(dialect)?;
    match name {
        Some(n) => BarrierTable::with_name(d, n),
        None => Ok(BarrierTable::new(d)),
    }
}

/// The SQL of `statement` (written for `dialect`) with its placeholders in `style`.
/// Barrier SQL holds no string literals, so placeholders are rewritten in order.
pub fn render(sql: &str, dialect: Dialect, style: ParamStyle) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        let is_placeholder = match dialect {
            Dialect::Postgres => c == '$' && chars.peek().is_some_and(char::is_ascii_digit),
            _ => c == '?',
        };
        if is_placeholder {
            if dialect == Dialect::Postgres {
                while chars.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                }
            }
            n += 1;
            out.push_str(&style.placeholder(n));
        } else if c == '%' && style == ParamStyle::Format {
            out.push_str("%%");
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_each_style() {
        let pg = table("postgresql", None).expect("pg");
        let sql = pg.select_reason_sql();
        let f = render(&sql, Dialect::Postgres, ParamStyle::Format);
        assert!(f.ends_with("op = %s and barrier_id = %s"), "{f}");
        assert_eq!(render(&sql, Dialect::Postgres, ParamStyle::Dollar), sql);
        let my = table("mariadb", Some("app.barrier")).expect("mysql");
        let q = render(&my.insert_ignore_sql(), Dialect::Mysql, ParamStyle::Numeric);
        assert!(q.contains("(:1, :2, :3, :4, :5, :6)"), "{q}");
        assert_eq!(
            render("a % ?", Dialect::Sqlite, ParamStyle::Format),
            "a %% %s"
        );
        assert!(ParamStyle::parse("named").is_err());
        assert!(table("oracle", None).is_err());
    }
}
