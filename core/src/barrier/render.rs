//! Barrier SQL in the placeholder style of the host's driver (`?`, `%s`, `$1`, `:1`), so
//! every package runs the same statements whatever its driver writes.

use super::{BarrierTable, Dialect};
use crate::error::{Error, ErrorKind, Result};

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
            _ => Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("unsupported parameter style {name:?}"),
            )),
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

impl BarrierTable {
    /// `sql`, one of this table's statements, with its placeholders in `style`. Barrier SQL
    /// holds no string literals, so placeholders are rewritten in order.
    pub fn render(&self, sql: &str, style: ParamStyle) -> String {
        let dialect = self.dialect();
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_each_style() {
        let pg = BarrierTable::new(Dialect::Postgres);
        let sql = pg.select_reason_sql();
        let f = pg.render(&sql, ParamStyle::Format);
        assert!(f.ends_with("op = %s and barrier_id = %s"), "{f}");
        assert_eq!(pg.render(&sql, ParamStyle::Dollar), sql);
        let my = BarrierTable::with_name(Dialect::Mysql, "app.barrier").expect("mysql");
        let q = my.render(&my.insert_ignore_sql(), ParamStyle::Numeric);
        assert!(q.contains("(:1, :2, :3, :4, :5, :6)"), "{q}");
        let lite = BarrierTable::new(Dialect::Sqlite);
        assert_eq!(lite.render("a % ?", ParamStyle::Format), "a %% %s");
        assert!(ParamStyle::parse("named").is_err());
    }
}
