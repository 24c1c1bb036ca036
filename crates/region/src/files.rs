//! MAAS's file storage (`files/`): each user's files by name (Juju keeps its provider state
//! there), and a key per file that reads it without credentials.

use crate::{Region, RegionError, Result};
use ingot_store::files::StoredFile;
use ingot_store::User;

fn not_found(filename: &str) -> RegionError {
    RegionError::NotFound(format!("No file named '{filename}'."))
}

/// A file name as MAAS stores it: 1 to 255 characters, none of them a control character.
fn check_filename(filename: &str) -> Result<()> {
    if filename.is_empty()
        || filename.chars().count() > 255
        || filename.chars().any(char::is_control)
    {
        return Err(RegionError::field(
            "filename",
            "A file name is 1 to 255 characters, without control characters.",
        ));
    }
    Ok(())
}

impl Region {
    /// Store `content` as the user's `filename` (replacing the file of that name).
    pub async fn add_file(&self, u: &User, filename: &str, content: &[u8]) -> Result<StoredFile> {
        check_filename(filename)?;
        let key = ingot_store::random_token(30);
        Ok(self.store.put_file(u.id, filename, &key, content).await?)
    }

    pub async fn file(&self, u: &User, filename: &str) -> Result<StoredFile> {
        self.store
            .file(u.id, filename)
            .await?
            .ok_or_else(|| not_found(filename))
    }

    /// The user's files whose name starts with `prefix`.
    pub async fn files(&self, u: &User, prefix: &str) -> Result<Vec<StoredFile>> {
        Ok(self.store.files(u.id, prefix).await?)
    }

    pub async fn delete_file(&self, u: &User, filename: &str) -> Result<()> {
        if self.store.delete_file(u.id, filename).await? {
            Ok(())
        } else {
            Err(not_found(filename))
        }
    }

    /// A file by its key, for anyone who has the key.
    pub async fn file_by_key(&self, key: &str) -> Result<StoredFile> {
        self.store
            .file_by_key(key)
            .await?
            .ok_or_else(|| RegionError::NotFound("No file has this key.".into()))
    }
}
