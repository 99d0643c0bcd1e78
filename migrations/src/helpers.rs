//! Small builders both migrations use, so table and constraint names follow one pattern.

use sea_orm_migration::prelude::*;

/// An identifier.
pub(crate) fn t(name: &str) -> Alias {
    Alias::new(name)
}

/// A foreign key `fk_<from>_<column>` to `to.id`, refusing deletes of referenced rows.
pub(crate) fn fk(from: &str, column: &str, to: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{from}_{column}"))
        .from(t(from), t(column))
        .to(t(to), t("id"))
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

/// An index `ix_<table>_<columns>`.
pub(crate) fn index(table: &str, columns: &[&str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index
        .name(format!("ix_{table}_{}", columns.join("_")))
        .table(t(table));
    for column in columns {
        index.col(t(column));
    }
    index.to_owned()
}
