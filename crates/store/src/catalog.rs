//! Zones, resource pools, domains and tags (`zones`, `pools`, `domains`, `tags`, `machine_tags`).

use crate::{found, map_unique, now_ms, Result, Store, StoreError};
use sqlx::Row;

/// A DNS domain machines are named in (`maas`, the default, is the first).
#[derive(Debug, Clone, PartialEq)]
pub struct Domain {
    pub id: i64,
    pub name: String,
    pub authoritative: bool,
    pub ttl: Option<i64>,
    /// How many machines have their name in it.
    pub machines: i64,
    /// Where machines are named when no domain is given (one domain is).
    pub is_default: bool,
    /// Its names' addresses and records.
    pub records: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    pub id: i64,
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tag {
    pub id: i64,
    pub name: String,
    pub comment: String,
    pub definition: String,
    pub kernel_opts: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamedKind {
    Zone,
    Pool,
}

impl Store {
    /// Ids of the default zone, pool and domain, in one query.
    pub async fn defaults(&self) -> Result<(i64, i64, i64)> {
        let r = sqlx::query("SELECT (SELECT id FROM zones WHERE name = 'default'), (SELECT id FROM pools WHERE name = 'default'), (SELECT MIN(id) FROM domains WHERE is_default = 1)")
            .fetch_one(&self.pool)
            .await?;
        let get = |i: usize| -> Result<i64> {
            r.try_get::<Option<i64>, _>(i)?
                .ok_or_else(|| StoreError::Corrupt("default zone, pool or domain missing".into()))
        };
        Ok((get(0)?, get(1)?, get(2)?))
    }

    // ---------------------------------------------------------------- zones, pools, domains
    pub(crate) fn named_table(kind: NamedKind) -> &'static str {
        match kind {
            NamedKind::Zone => "zones",
            NamedKind::Pool => "pools",
        }
    }

    pub async fn list_named(&self, kind: NamedKind) -> Result<Vec<Named>> {
        let sql = format!(
            "SELECT id, name, description FROM {} ORDER BY id",
            Self::named_table(kind)
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(Named {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    description: r.try_get(2)?,
                })
            })
            .collect()
    }

    pub async fn named_by_name(&self, kind: NamedKind, name: &str) -> Result<Option<Named>> {
        Ok(self
            .list_named(kind)
            .await?
            .into_iter()
            .find(|n| n.name == name))
    }

    pub async fn named_by_id(&self, kind: NamedKind, id: i64) -> Result<Option<Named>> {
        Ok(self
            .list_named(kind)
            .await?
            .into_iter()
            .find(|n| n.id == id))
    }

    pub async fn create_named(
        &self,
        kind: NamedKind,
        name: &str,
        description: &str,
    ) -> Result<Named> {
        let sql = format!(
            "INSERT INTO {} (name, description, created) VALUES ($1, $2, $3) RETURNING id",
            Self::named_table(kind)
        );
        let r = sqlx::query(&sql)
            .bind(name)
            .bind(description)
            .bind(now_ms())
            .fetch_one(self.writes()?)
            .await
            .map_err(|e| map_unique(e, &format!("'{name}' already exists.")))?;
        Ok(Named {
            id: r.try_get(0)?,
            name: name.to_string(),
            description: description.to_string(),
        })
    }

    pub async fn update_named(
        &self,
        kind: NamedKind,
        id: i64,
        name: &str,
        description: &str,
    ) -> Result<()> {
        let sql = format!(
            "UPDATE {} SET name = $1, description = $2 WHERE id = $3",
            Self::named_table(kind)
        );
        found(
            sqlx::query(&sql)
                .bind(name)
                .bind(description)
                .bind(id)
                .execute(self.writes()?)
                .await
                .map_err(|e| map_unique(e, &format!("'{name}' already exists.")))?
                .rows_affected(),
        )
    }

    /// Delete a zone or pool; refused for the default one and while machines use it.
    /// Delete a zone or pool; its machines move to the default one (as in MAAS), each a
    /// change of the machine (its version goes up), in the same transaction.
    pub async fn delete_named(&self, kind: NamedKind, id: i64) -> Result<()> {
        let (table, column) = match kind {
            NamedKind::Zone => ("zones", "zone_id"),
            NamedKind::Pool => ("pools", "pool_id"),
        };
        let mut tx = self.begin_write().await?;
        let moved = format!("UPDATE machines SET {column} = (SELECT id FROM {table} WHERE name = 'default'), version = version + 1, updated = $2 WHERE {column} = $1");
        sqlx::query(&moved)
            .bind(id)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        let gone = sqlx::query(&format!(
            "DELETE FROM {table} WHERE id = $1 AND name <> 'default'"
        ))
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if gone == 0 {
            return Err(StoreError::NotFound);
        }
        crate::commit(tx).await?;
        Ok(())
    }

    /// Delete row `id` of `table` unless `referenced` (a query over `$1` = id) finds rows, in
    /// one statement so nothing can start referencing it in between. A refusal says how many
    /// rows still refer to it; a missing row is `NotFound`.
    pub(crate) async fn delete_unreferenced(
        &self,
        table: &str,
        id: i64,
        referenced: &str,
        refused: impl Fn(i64) -> String,
    ) -> Result<()> {
        let sql = format!("DELETE FROM {table} WHERE id = $1 AND NOT EXISTS ({referenced})");
        if sqlx::query(&sql)
            .bind(id)
            .execute(self.writes()?)
            .await?
            .rows_affected()
            > 0
        {
            return Ok(());
        }
        let n: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM ({referenced}) refs"))
            .bind(id)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        Err(if n > 0 {
            StoreError::Duplicate(refused(n))
        } else {
            StoreError::NotFound
        })
    }

    /// Every DNS domain with how many machines are named in it.
    pub async fn domains(&self) -> Result<Vec<Domain>> {
        let rows = sqlx::query("SELECT d.id, d.name, d.authoritative, d.ttl, (SELECT COUNT(*) FROM machines m WHERE m.domain_id = d.id), d.is_default, \
             (SELECT COUNT(*) FROM dnsdata x JOIN dnsresources r ON r.id = x.dnsresource_id WHERE r.domain_id = d.id) \
             + (SELECT COUNT(*) FROM dnsresource_addresses a JOIN dnsresources r ON r.id = a.dnsresource_id WHERE r.domain_id = d.id) \
             FROM domains d ORDER BY d.id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Domain {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    authoritative: r.try_get::<i64, _>(2)? != 0,
                    ttl: r.try_get(3)?,
                    machines: r.try_get(4)?,
                    is_default: r.try_get::<i64, _>(5)? != 0,
                    records: r.try_get(6)?,
                })
            })
            .collect()
    }

    pub async fn domain_by_name(&self, name: &str) -> Result<Option<(i64, String)>> {
        let r = sqlx::query("SELECT id, name FROM domains WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        r.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    // ---------------------------------------------------------------- tags
    pub async fn list_tags(&self) -> Result<Vec<Tag>> {
        let rows = sqlx::query("SELECT * FROM tags ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Tag {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    comment: r.try_get("comment")?,
                    definition: r.try_get("definition")?,
                    kernel_opts: r.try_get("kernel_opts")?,
                })
            })
            .collect()
    }

    pub async fn tag_by_name(&self, name: &str) -> Result<Option<Tag>> {
        Ok(self.list_tags().await?.into_iter().find(|t| t.name == name))
    }

    pub async fn create_tag(
        &self,
        name: &str,
        comment: &str,
        definition: &str,
        kernel_opts: &str,
    ) -> Result<Tag> {
        let r = sqlx::query("INSERT INTO tags (name, comment, definition, kernel_opts) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(name)
            .bind(comment)
            .bind(definition)
            .bind(kernel_opts)
            .fetch_one(self.writes()?)
            .await
            .map_err(|e| map_unique(e, &format!("Tag with this name '{name}' already exists.")))?;
        Ok(Tag {
            id: r.try_get(0)?,
            name: name.into(),
            comment: comment.into(),
            definition: definition.into(),
            kernel_opts: kernel_opts.into(),
        })
    }

    pub async fn update_tag(
        &self,
        id: i64,
        name: &str,
        comment: &str,
        definition: &str,
        kernel_opts: &str,
    ) -> Result<()> {
        sqlx::query("UPDATE tags SET name = $1, comment = $2, kernel_opts = $3, definition = $5 WHERE id = $4")
            .bind(name)
            .bind(comment)
            .bind(kernel_opts)
            .bind(id)
            .bind(definition)
            .execute(self.writes()?)
            .await
            .map_err(|e| map_unique(e, &format!("Tag with this name '{name}' already exists.")))?;
        Ok(())
    }

    pub async fn delete_tag(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM tags WHERE id = $1")
            .bind(id)
            .execute(self.writes()?)
            .await?;
        Ok(())
    }

    /// Add and remove tags on machines in one transaction; each machine whose tags changed
    /// gets a new version.
    pub async fn tag_machines(&self, tag_id: i64, add: &[i64], remove: &[i64]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let mut changed = Vec::new();
        for m in remove {
            let n = sqlx::query("DELETE FROM machine_tags WHERE machine_id = $1 AND tag_id = $2")
                .bind(*m)
                .bind(tag_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n > 0 {
                changed.push(*m);
            }
        }
        for m in add {
            let n = sqlx::query("INSERT INTO machine_tags (machine_id, tag_id) VALUES ($1, $2) ON CONFLICT DO NOTHING").bind(*m).bind(tag_id).execute(&mut *tx).await?.rows_affected();
            if n > 0 {
                changed.push(*m);
            }
        }
        for m in changed {
            sqlx::query("UPDATE machines SET version = version + 1 WHERE id = $1")
                .bind(m)
                .execute(&mut *tx)
                .await?;
        }
        crate::commit(tx).await?;
        Ok(())
    }

    /// The ids of every node (machines, controllers and devices), in id order.
    pub async fn node_ids(&self) -> Result<Vec<i64>> {
        let rows = sqlx::query("SELECT id FROM machines ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Tag membership decided by tag definitions, in one transaction: each `(machine id, tag
    /// id, has the tag)` that changes a membership is applied; each machine changed gets a new
    /// version once and one event naming the tags it gained and lost. Returns how many
    /// memberships changed.
    pub async fn set_defined_tags(
        &self,
        decisions: &[(i64, i64, bool)],
        username: &str,
    ) -> Result<usize> {
        use std::collections::BTreeMap;
        let mut tx = self.begin_write().await?;
        let names: BTreeMap<i64, String> = sqlx::query("SELECT id, name FROM tags")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_>>()?;
        // machine id -> (tags added, tags removed)
        let mut changed: BTreeMap<i64, (Vec<String>, Vec<String>)> = BTreeMap::new();
        let mut n = 0;
        for &(machine, tag, has) in decisions {
            let sql = if has {
                "INSERT INTO machine_tags (machine_id, tag_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
            } else {
                "DELETE FROM machine_tags WHERE machine_id = $1 AND tag_id = $2"
            };
            let done = sqlx::query(sql)
                .bind(machine)
                .bind(tag)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if done > 0 {
                n += 1;
                let name = names.get(&tag).cloned().unwrap_or_default();
                let e = changed.entry(machine).or_default();
                if has {
                    e.0.push(name);
                } else {
                    e.1.push(name);
                }
            }
        }
        let now = now_ms();
        for (machine, (added, removed)) in changed {
            let r = sqlx::query("UPDATE machines SET version = version + 1 WHERE id = $1 RETURNING system_id, hostname")
                .bind(machine)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(r) = r else { continue };
            let (system_id, hostname): (String, String) = (r.try_get(0)?, r.try_get(1)?);
            let mut parts = Vec::new();
            if !added.is_empty() {
                parts.push(format!("added {}", added.join(", ")));
            }
            if !removed.is_empty() {
                parts.push(format!("removed {}", removed.join(", ")));
            }
            let ev = crate::NewEvent::info(
                "Tags",
                format!("Tags by definition: {}", parts.join("; ")),
                username,
            );
            crate::events::insert_event(&mut tx, Some(machine), &system_id, &hostname, &ev, now)
                .await?;
        }
        crate::commit(tx).await?;
        Ok(n)
    }
}
