//! What the web UI's live stream polls: which machines changed lately.

use crate::{Region, Result};

impl Region {
    /// The machines changed after `since_ms` (for the UI's live stream), and how many machines
    /// there are now.
    pub async fn machines_touched_since(
        &self,
        since_ms: i64,
    ) -> Result<(Vec<ingot_store::MachineTouch>, i64)> {
        Ok((
            self.store.machines_touched_since(since_ms).await?,
            self.store.machine_count().await?,
        ))
    }
}
