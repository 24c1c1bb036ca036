//! Static routes between subnets (MAAS `static-routes/`): checked by
//! `ingot_core::net::check_static_route`, stored in `static_routes`, and rendered into the
//! network configuration of every machine with an address on the source subnet.

use crate::settings::need_admin;
use crate::{FieldErrors, Region, RegionError, Result};
use ingot_core::net::{check_static_route, Cidr};
use ingot_store::network::Subnet;
use ingot_store::routes::StaticRoute;
use ingot_store::StoreError;
use ingot_store::User;
use ingot_wire::Params;

/// A subnet named by id, CIDR or name (as MAAS's subnet specifiers).
fn find_subnet<'a>(subnets: &'a [Subnet], spec: &str) -> Option<&'a Subnet> {
    subnets.iter().find(|s| {
        spec.parse::<i64>().is_ok_and(|id| id == s.id) || s.cidr == spec || s.name == spec
    })
}

fn not_found() -> RegionError {
    RegionError::NotFound("No StaticRoute matches the given query.".into())
}

impl Region {
    pub async fn static_routes(&self) -> Result<Vec<StaticRoute>> {
        Ok(self.store.static_routes().await?)
    }

    pub async fn static_route(&self, id: i64) -> Result<StaticRoute> {
        self.store.static_route(id).await?.ok_or_else(not_found)
    }

    /// `static-routes/` create (admin): `source`, `destination`, `gateway_ip`, `metric`.
    pub async fn create_static_route(&self, u: &User, p: &Params) -> Result<StaticRoute> {
        need_admin(u)?;
        let blank = StaticRoute {
            id: 0,
            source_id: 0,
            destination_id: 0,
            gateway_ip: String::new(),
            metric: 0,
        };
        let r = self.route_form(blank, p, true).await?;
        self.store.create_static_route(&r).await.map_err(duplicate)
    }

    /// `static-routes/{id}/` update (admin): the fields given replace the route's.
    pub async fn update_static_route(&self, u: &User, id: i64, p: &Params) -> Result<StaticRoute> {
        need_admin(u)?;
        let old = self.static_route(id).await?;
        let r = self.route_form(old, p, false).await?;
        self.store
            .update_static_route(&r)
            .await
            .map_err(duplicate)?;
        self.static_route(id).await
    }

    /// `static-routes/{id}/` delete (admin).
    pub async fn delete_static_route(&self, u: &User, id: i64) -> Result<()> {
        need_admin(u)?;
        self.store
            .delete_static_route(id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => not_found(),
                e => e.into(),
            })
    }

    /// The form applied to `r`: every field required on create, the given ones on update;
    /// then the route's rules on the result.
    async fn route_form(
        &self,
        mut r: StaticRoute,
        p: &Params,
        create: bool,
    ) -> Result<StaticRoute> {
        let subnets = self.store.subnets().await?;
        let mut fe = FieldErrors::default();
        for field in ["source", "destination"] {
            match p.get(field).map(str::trim).filter(|v| !v.is_empty()) {
                Some(spec) => match find_subnet(&subnets, spec) {
                    Some(s) if field == "source" => r.source_id = s.id,
                    Some(s) => r.destination_id = s.id,
                    None => fe.add(field, format!("No subnet matches '{spec}'.")),
                },
                None if create => fe.add(field, "This field is required."),
                None => {}
            }
        }
        match p.get("gateway_ip").map(str::trim).filter(|v| !v.is_empty()) {
            Some(g) => r.gateway_ip = g.to_string(),
            None if create => fe.add("gateway_ip", "This field is required."),
            None => {}
        }
        if let Some(m) = p.get_i64("metric")? {
            r.metric = m;
        }
        fe.check()?;
        let cidr = |id: i64| {
            subnets
                .iter()
                .find(|s| s.id == id)
                .and_then(|s| Cidr::parse(&s.cidr).ok())
                .ok_or_else(|| RegionError::field("source", "The subnet no longer exists."))
        };
        let (src, dst) = (cidr(r.source_id)?, cidr(r.destination_id)?);
        if let Err(errs) = check_static_route(&src, &dst, &r.gateway_ip, r.metric) {
            let mut fe = FieldErrors::default();
            for (f, m) in errs {
                fe.add(f, m);
            }
            fe.check()?;
        }
        if let Ok(ip) = r.gateway_ip.trim().parse::<std::net::IpAddr>() {
            r.gateway_ip = ip.to_string();
        }
        Ok(r)
    }
}

fn duplicate(e: StoreError) -> RegionError {
    match e {
        StoreError::Duplicate(m) => RegionError::field("__all__", m),
        e => e.into(),
    }
}
