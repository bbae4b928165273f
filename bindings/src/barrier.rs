//! The barrier for hosts: tables by dialect name, and statements rendered in the parameter
//! style of the host's driver (`?`, `%s`, `$1`, `:1`), so every binding runs the same SQL.

use crate::error::Result;
pub use dtmx::barrier::{
    check_back, Action, Barrier, BarrierCall, BarrierTable, Decision, Dialect, Guard, Ownership,
    ParamStyle, QueryPrepared, RedisCall, RedisDecision, RedisQueryPrepared, Statement, Step,
    REDIS_DEFAULT_EXPIRE,
};

/// The table `name` (`None`: the dialect's default) of the dialect named `dialect`.
pub fn table(dialect: &str, name: Option<&str>) -> Result<BarrierTable> {
    let d = Dialect::parse(dialect)?;
    match name {
        Some(n) => BarrierTable::with_name(d, n),
        None => Ok(BarrierTable::new(d)),
    }
}

/// The SQL of `statement` (written for `dialect`) with its placeholders in `style`.
pub fn render(sql: &str, dialect: Dialect, style: ParamStyle) -> String {
    BarrierTable::new(dialect).render(sql, style)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_by_dialect_name() {
        assert_eq!(
            table("postgresql", None).expect("pg").dialect(),
            Dialect::Postgres
        );
        let my = table("mariadb", Some("app.barrier")).expect("mysql");
        assert_eq!((my.dialect(), my.name()), (Dialect::Mysql, "app.barrier"));
        assert!(table("oracle", None).is_err());
        let q = render("a = ?", Dialect::Sqlite, ParamStyle::Dollar);
        assert_eq!(q, "a = $1");
    }
}
