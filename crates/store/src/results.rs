//! Script results (`script_results`).

use crate::{now_ms, Result, Store};
use ingot_core::scripts::ResultStatus;
use sqlx::any::AnyRow;
use sqlx::Row;

/// The numbers of the result statuses `which` selects, for an SQL `IN (…)` list.
pub(crate) fn result_statuses(which: impl Fn(ResultStatus) -> bool) -> String {
    ResultStatus::ALL
        .into_iter()
        .filter(|s| which(*s))
        .map(|s| s.number().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScriptResult {
    pub id: i64,
    pub machine_id: i64,
    pub result_set: String,
    pub name: String,
    pub status: i64,
    pub exit_status: Option<i64>,
    pub runtime: String,
    pub output: Option<Vec<u8>>,
    pub stdout: Option<Vec<u8>>,
    pub stderr: Option<Vec<u8>>,
    pub result: Option<Vec<u8>>,
    pub created: i64,
    pub updated: i64,
    /// The user script run (None: a built-in, or a result uploaded without a set).
    pub script_id: Option<i64>,
    pub run_order: i64,
    pub timeout_secs: i64,
    pub hardware_type: i64,
    pub started: Option<i64>,
    pub ended: Option<i64>,
}

pub(crate) fn result_from_row(r: &AnyRow) -> Result<ScriptResult> {
    Ok(ScriptResult {
        id: r.try_get("id")?,
        machine_id: r.try_get("machine_id")?,
        result_set: r.try_get("result_set")?,
        name: r.try_get("name")?,
        status: r.try_get("status")?,
        exit_status: r.try_get("exit_status")?,
        runtime: r.try_get("runtime")?,
        output: r.try_get("output")?,
        stdout: r.try_get("stdout")?,
        stderr: r.try_get("stderr")?,
        result: r.try_get("result")?,
        created: r.try_get("created")?,
        updated: r.try_get("updated")?,
        script_id: r.try_get("script_id")?,
        run_order: r.try_get("run_order")?,
        timeout_secs: r.try_get("timeout_secs")?,
        hardware_type: r.try_get("hardware_type")?,
        started: r.try_get("started")?,
        ended: r.try_get("ended")?,
    })
}

impl Store {
    // ---------------------------------------------------------------- script results
    /// Store (insert or replace by name within the set) a script result.
    #[allow(clippy::too_many_arguments)]
    pub async fn store_result(
        &self,
        machine_id: i64,
        result_set: &str,
        name: &str,
        status: i64,
        exit_status: Option<i64>,
        runtime: &str,
        files: [Option<Vec<u8>>; 4],
    ) -> Result<()> {
        let now = now_ms();
        // Pending / running results have not ended.
        let ended = (!matches!(status, 0 | 1 | 7 | 10)).then_some(now);
        let [output, stdout, stderr, result] = files;
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("UPDATE script_results SET status = $1, exit_status = COALESCE($2, exit_status), runtime = CASE WHEN $3 = '' THEN runtime ELSE $3 END, output = COALESCE($4, output), stdout = COALESCE($5, stdout), stderr = COALESCE($6, stderr), result = COALESCE($7, result), updated = $8, started = COALESCE(started, $8), ended = $12 WHERE machine_id = $9 AND result_set = $10 AND name = $11")
            .bind(status)
            .bind(exit_status)
            .bind(runtime)
            .bind(output.as_deref())
            .bind(stdout.as_deref())
            .bind(stderr.as_deref())
            .bind(result.as_deref())
            .bind(now)
            .bind(machine_id)
            .bind(result_set)
            .bind(name)
            .bind(ended)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            sqlx::query("INSERT INTO script_results (machine_id, result_set, name, status, exit_status, runtime, output, stdout, stderr, result, created, updated, started, ended) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $11, $12)")
                .bind(machine_id)
                .bind(result_set)
                .bind(name)
                .bind(status)
                .bind(exit_status)
                .bind(runtime)
                .bind(output.as_deref())
                .bind(stdout.as_deref())
                .bind(stderr.as_deref())
                .bind(result.as_deref())
                .bind(now)
                .bind(ended)
                .execute(&mut *tx)
                .await?;
        }
        crate::commit(tx).await?;
        Ok(())
    }

    pub async fn results(
        &self,
        machine_id: i64,
        result_set: Option<&str>,
    ) -> Result<Vec<ScriptResult>> {
        let rows = match result_set {
            Some(s) => sqlx::query("SELECT * FROM script_results WHERE machine_id = $1 AND result_set = $2 ORDER BY run_order, name").bind(machine_id).bind(s).fetch_all(&self.pool).await?,
            None => sqlx::query("SELECT * FROM script_results WHERE machine_id = $1 ORDER BY result_set, run_order, name").bind(machine_id).fetch_all(&self.pool).await?,
        };
        rows.iter().map(result_from_row).collect()
    }

    /// The stdout of the machine's latest passed result of the script `name` (in any set).
    pub async fn latest_passed_stdout(
        &self,
        machine_id: i64,
        name: &str,
    ) -> Result<Option<Vec<u8>>> {
        let r = sqlx::query("SELECT stdout FROM script_results WHERE machine_id = $1 AND name = $2 AND status = $3 AND stdout IS NOT NULL ORDER BY updated DESC, id DESC LIMIT 1")
            .bind(machine_id)
            .bind(name)
            .bind(ResultStatus::Passed.number())
            .fetch_optional(&self.pool)
            .await?;
        r.map(|r| Ok(r.try_get(0)?)).transpose()
    }

    /// Mark pending and running results as aborted.
    pub async fn abort_results(&self, machine_id: i64) -> Result<()> {
        let sql = format!(
            "UPDATE script_results SET status = $3, updated = $1 WHERE machine_id = $2 AND status IN ({})",
            result_statuses(ResultStatus::is_running_or_pending)
        );
        sqlx::query(&sql)
            .bind(now_ms())
            .bind(machine_id)
            .bind(ResultStatus::Aborted.number())
            .execute(self.writes()?)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn result_status_lists() {
        use ingot_core::scripts::ResultStatus;
        assert_eq!(super::result_statuses(ResultStatus::is_running), "1, 7, 10");
        assert_eq!(
            super::result_statuses(ResultStatus::is_running_or_pending),
            "0, 1, 7, 10"
        );
    }
}
