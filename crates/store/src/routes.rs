//! `static_routes`: MAAS's static routes between subnets.

use crate::{found, map_unique, Result, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

/// Machines with an address on `source_id` reach `destination_id` through `gateway_ip`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticRoute {
    pub id: i64,
    pub source_id: i64,
    pub destination_id: i64,
    pub gateway_ip: String,
    pub metric: i64,
}

fn route_from(r: &AnyRow) -> Result<StaticRoute> {
    Ok(StaticRoute {
        id: r.try_get("id")?,
        source_id: r.try_get("source_id")?,
        destination_id: r.try_get("destination_id")?,
        gateway_ip: r.try_get("gateway_ip")?,
        metric: r.try_get("metric")?,
    })
}

const DUPLICATE: &str = "A static route with this source, destination and gateway already exists.";

impl Store {
    pub async fn static_routes(&self) -> Result<Vec<StaticRoute>> {
        sqlx::query("SELECT * FROM static_routes ORDER BY id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(route_from)
            .collect()
    }
    pub async fn static_route(&self, id: i64) -> Result<Option<StaticRoute>> {
        sqlx::query("SELECT * FROM static_routes WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(route_from)
            .transpose()
    }
    pub async fn create_static_route(&self, r: &StaticRoute) -> Result<StaticRoute> {
        let row = sqlx::query("INSERT INTO static_routes (source_id, destination_id, gateway_ip, metric) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(r.source_id)
            .bind(r.destination_id)
            .bind(&r.gateway_ip)
            .bind(r.metric)
            .fetch_one(self.writes()?)
            .await
            .map_err(|e| map_unique(e, DUPLICATE))?;
        self.static_route(row.try_get(0)?)
            .await?
            .ok_or(StoreError::NotFound)
    }
    pub async fn update_static_route(&self, r: &StaticRoute) -> Result<()> {
        sqlx::query("UPDATE static_routes SET source_id = $1, destination_id = $2, gateway_ip = $3, metric = $4 WHERE id = $5")
            .bind(r.source_id)
            .bind(r.destination_id)
            .bind(&r.gateway_ip)
            .bind(r.metric)
            .bind(r.id)
            .execute(self.writes()?)
            .await
            .map_err(|e| map_unique(e, DUPLICATE))?;
        Ok(())
    }
    pub async fn delete_static_route(&self, id: i64) -> Result<()> {
        found(
            sqlx::query("DELETE FROM static_routes WHERE id = $1")
                .bind(id)
                .execute(self.writes()?)
                .await?
                .rows_affected(),
        )
    }
}
