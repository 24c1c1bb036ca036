//! The catalog machines are sorted by: tags (with their kernel options; manual, or decided by
//! a definition: `details.rs`), zones and resource pools. Names are checked by `ingot_core::ids::is_valid_name`.

use crate::details::checked_definition;
use crate::settings::need_admin;
use crate::{Region, RegionError, Result};
use ingot_core::ids::is_valid_name;
use ingot_core::tags::is_defined;
use ingot_store::{Domain, Named, NamedKind, StoreError, Tag, User};

/// A duplicate name is the `name` field's error.
fn name_taken(e: StoreError) -> RegionError {
    match e {
        StoreError::Duplicate(m) => RegionError::field("name", m),
        e => e.into(),
    }
}

/// A name by `ingot_core::ids::is_valid_name`; `what` starts the refusal ("Tag names", "Names").
pub(crate) fn check_name(what: &str, name: &str) -> Result<()> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(RegionError::field(
            "name",
            format!("{what} may use letters, digits, '-' and '_' only."),
        ))
    }
}

/// What a tag change sends; `None` keeps the current value.
#[derive(Debug, Default)]
pub struct TagFields<'a> {
    pub name: Option<&'a str>,
    pub comment: Option<&'a str>,
    pub kernel_opts: Option<&'a str>,
    pub definition: Option<&'a str>,
}

impl Region {
    // ------------------------------------------------------------------------ tags
    pub async fn list_tags(&self) -> Result<Vec<Tag>> {
        Ok(self.store.list_tags().await?)
    }

    /// The DNS domains (the default first).
    pub async fn domains(&self) -> Result<Vec<Domain>> {
        Ok(self.store.domains().await?)
    }

    /// A domain by id or name.
    pub async fn domain(&self, key: &str) -> Result<Domain> {
        self.domains()
            .await?
            .into_iter()
            .find(|d| d.id.to_string() == key || d.name == key)
            .ok_or_else(|| RegionError::NotFound("No Domain matches the given query.".into()))
    }

    pub async fn tag(&self, name: &str) -> Result<Tag> {
        self.store
            .tag_by_name(name)
            .await?
            .ok_or_else(|| RegionError::NotFound("No Tag matches the given query.".into()))
    }

    /// An administrator creates a tag: a manual one, or one with a definition (XPath 1.0 over
    /// the hardware details, checked here: the `definition` field's error when invalid), which
    /// is then evaluated over every node.
    pub async fn create_tag(&self, u: &User, f: &TagFields<'_>) -> Result<Tag> {
        need_admin(u)?;
        let name = f.name.unwrap_or_default();
        check_name("Tag names", name)?;
        let definition = checked_definition(f.definition.unwrap_or_default())?;
        let t = self
            .store
            .create_tag(
                name,
                f.comment.unwrap_or_default(),
                &definition,
                f.kernel_opts.unwrap_or_default(),
            )
            .await
            .map_err(name_taken)?;
        self.populate_tag(&t, &u.username).await?;
        Ok(t)
    }

    /// Change a tag (admin). A changed definition is checked and evaluated over every node
    /// again; a tag whose definition is removed keeps its nodes and becomes manual.
    pub async fn update_tag(&self, u: &User, name: &str, f: &TagFields<'_>) -> Result<Tag> {
        let t = self.tag(name).await?;
        need_admin(u)?;
        let new_name = f.name.unwrap_or(&t.name);
        check_name("Tag names", new_name)?;
        let definition = match f.definition {
            Some(d) => checked_definition(d)?,
            None => t.definition.clone(),
        };
        self.store
            .update_tag(
                t.id,
                new_name,
                f.comment.unwrap_or(&t.comment),
                &definition,
                f.kernel_opts.unwrap_or(&t.kernel_opts),
            )
            .await
            .map_err(name_taken)?;
        let t2 = self.tag(new_name).await?;
        if t2.definition != t.definition {
            self.populate_tag(&t2, &u.username).await?;
        }
        Ok(t2)
    }

    /// `tags/{name}/?op=rebuild` (admin): evaluate a defined tag over every node again (a
    /// manual tag is left as it is). Returns the tag's name.
    pub async fn rebuild_tag(&self, u: &User, name: &str) -> Result<String> {
        let t = self.tag(name).await?;
        need_admin(u)?;
        self.populate_tag(&t, &u.username).await?;
        Ok(t.name)
    }

    pub async fn delete_tag(&self, u: &User, name: &str) -> Result<()> {
        let t = self.tag(name).await?;
        need_admin(u)?;
        Ok(self.store.delete_tag(t.id).await?)
    }

    /// Tag the machines in `add` and untag those in `remove` (system ids), all or none: an
    /// unknown id refuses the whole request. Returns how many were added and removed.
    pub async fn tag_update_nodes(
        &self,
        u: &User,
        name: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(usize, usize)> {
        let t = self.tag(name).await?;
        need_admin(u)?;
        if is_defined(&t.definition) {
            return Err(RegionError::BadRequest(format!(
                "Tag '{}' has a definition and cannot be applied manually: its nodes are those its definition matches (change the definition, or use op=rebuild).",
                t.name
            )));
        }
        let mut ids = (Vec::new(), Vec::new());
        let mut unknown = Vec::new();
        for (list, out) in [(add, &mut ids.0), (remove, &mut ids.1)] {
            for sid in list {
                match self.store.machine(sid).await? {
                    Some(m) => out.push(m.id),
                    None => unknown.push(sid.clone()),
                }
            }
        }
        if !unknown.is_empty() {
            return Err(RegionError::BadRequest(format!(
                "Unknown machine(s): {}.",
                unknown.join(", ")
            )));
        }
        self.store.tag_machines(t.id, &ids.0, &ids.1).await?;
        Ok((ids.0.len(), ids.1.len()))
    }

    // ------------------------------------------------------------------ zones and pools
    pub async fn list_named(&self, kind: NamedKind) -> Result<Vec<Named>> {
        Ok(self.store.list_named(kind).await?)
    }

    /// A zone by its name; a pool by its id or its name.
    pub async fn named(&self, kind: NamedKind, key: &str) -> Result<Named> {
        let n = match kind {
            NamedKind::Zone => self.store.named_by_name(kind, key).await?,
            NamedKind::Pool => match key.parse::<i64>() {
                Ok(id) => self.store.named_by_id(kind, id).await?,
                Err(_) => self.store.named_by_name(kind, key).await?,
            },
        };
        n.ok_or_else(|| {
            RegionError::NotFound(format!(
                "No {} matches the given query.",
                match kind {
                    NamedKind::Zone => "Zone",
                    NamedKind::Pool => "ResourcePool",
                }
            ))
        })
    }

    pub async fn create_named(
        &self,
        u: &User,
        kind: NamedKind,
        name: &str,
        description: &str,
    ) -> Result<Named> {
        need_admin(u)?;
        let name = name.trim();
        check_name("Names", name)?;
        self.store
            .create_named(kind, name, description)
            .await
            .map_err(name_taken)
    }

    /// Rename or describe a zone or pool (`default` keeps its name).
    pub async fn update_named(
        &self,
        u: &User,
        kind: NamedKind,
        key: &str,
        name: Option<&str>,
        description: Option<&str>,
    ) -> Result<Named> {
        let n = self.named(kind, key).await?;
        need_admin(u)?;
        let name = name.unwrap_or(&n.name).trim();
        check_name("Names", name)?;
        if n.name == "default" && name != "default" {
            return Err(RegionError::BadRequest(
                "The default one cannot be renamed.".into(),
            ));
        }
        self.store
            .update_named(kind, n.id, name, description.unwrap_or(&n.description))
            .await
            .map_err(name_taken)?;
        self.store
            .named_by_id(kind, n.id)
            .await?
            .ok_or_else(|| RegionError::NotFound("gone".into()))
    }

    /// Delete a zone or pool (admin; not the default one); its machines move to the default.
    pub async fn delete_named(&self, u: &User, kind: NamedKind, key: &str) -> Result<()> {
        let n = self.named(kind, key).await?;
        need_admin(u)?;
        if n.name == "default" {
            return Err(RegionError::BadRequest(
                "The default one cannot be deleted.".into(),
            ));
        }
        Ok(self.store.delete_named(kind, n.id).await?)
    }
}
