//! Network operations on a node's interfaces beyond links (`network.rs`): disconnecting an
//! interface, choosing and clearing the default gateway, interface tags, and restoring the
//! network configuration commissioning leaves.

use crate::network::iface_of;
use crate::{Region, RegionError, Result};
use ingot_core::actions::Action;
use ingot_store::network::InterfaceLink;
use ingot_store::{Interface, Machine, User};
use ingot_wire::Params;
use serde_json::Value;

/// Whether a link's address is IPv6 (by its subnet's CIDR).
fn is_v6(l: &InterfaceLink) -> bool {
    l.cidr.as_deref().is_some_and(|c| c.contains(':'))
}

impl Region {
    /// `?op=disconnect`: every link of the interface removed (with its addresses), and the
    /// interface on no VLAN.
    pub async fn disconnect_interface(
        &self,
        user: &User,
        system_id: &str,
        iface_id: i64,
    ) -> Result<()> {
        let m = self.editable_node(user, system_id).await?;
        let i = iface_of(&m, iface_id)?;
        Ok(self.store.disconnect_interfaces(&[i.id]).await?)
    }

    /// `?op=set_default_gateway [link_id]`: the node's default route goes through this
    /// interface's AUTO or STATIC link on a subnet with a gateway (for each IP family, one
    /// link of the node is the gateway). With several such links of one family, `link_id`
    /// says which.
    pub async fn set_default_gateway(
        &self,
        user: &User,
        system_id: &str,
        iface_id: i64,
        p: &Params,
    ) -> Result<()> {
        let m = self.editable_node(user, system_id).await?;
        let i = iface_of(&m, iface_id)?;
        let subnets = self.store.subnets().await?;
        let capable: Vec<&InterfaceLink> = i
            .links
            .iter()
            .filter(|l| crate::network::link_gateway(l, &subnets).is_some())
            .collect();
        let chosen = match p.get_i64("link_id")? {
            Some(id) => *capable.iter().find(|l| l.id == id).ok_or_else(|| {
                RegionError::field(
                    "link_id",
                    format!(
                        "Link {id} is not an AUTO or STATIC link of {} on a subnet with a gateway.",
                        i.name
                    ),
                )
            })?,
            None => match capable.as_slice() {
                [] => {
                    return Err(RegionError::BadRequest(format!(
                        "{} has no AUTO or STATIC link on a subnet with a gateway.",
                        i.name
                    )))
                }
                [only] => only,
                [first, rest @ ..] if rest.iter().all(|l| is_v6(l) != is_v6(first)) => first,
                _ => {
                    return Err(RegionError::field(
                        "link_id",
                        format!(
                            "{} has several links with a gateway in one IP family: give link_id.",
                            i.name
                        ),
                    ))
                }
            },
        };
        let clear: Vec<i64> = m
            .interfaces
            .iter()
            .flat_map(|x| x.links.iter())
            .filter(|l| l.default_gateway && l.id != chosen.id && is_v6(l) == is_v6(chosen))
            .map(|l| l.id)
            .collect();
        Ok(self
            .store
            .set_gateway_links(&clear, Some(chosen.id))
            .await?)
    }

    /// `machines/{id}/?op=clear_default_gateways`: no link is marked as the default gateway;
    /// deployment then picks the first addressed link on a subnet with a gateway.
    pub async fn clear_default_gateways(&self, user: &User, system_id: &str) -> Result<Machine> {
        let m = self.editable_node(user, system_id).await?;
        let clear: Vec<i64> = m
            .interfaces
            .iter()
            .flat_map(|x| x.links.iter())
            .filter(|l| l.default_gateway)
            .map(|l| l.id)
            .collect();
        self.store.set_gateway_links(&clear, None).await?;
        self.load(system_id).await
    }

    /// `?op=add_tag` / `?op=remove_tag` (`tag`): the interface's tags (commissioning's, such
    /// as `sriov`, until they are first changed by hand).
    pub async fn tag_interface(
        &self,
        user: &User,
        system_id: &str,
        iface_id: i64,
        p: &Params,
        add: bool,
    ) -> Result<()> {
        let m = self.load_node_for(user, system_id, Action::Update).await?;
        let i = iface_of(&m, iface_id)?;
        let tag = p.get("tag").map(str::trim).unwrap_or("");
        if tag.is_empty() {
            return Err(RegionError::field("tag", "This field is required."));
        }
        if tag.len() > 256 || tag.chars().any(|c| c.is_control() || c == ',') {
            return Err(RegionError::field(
                "tag",
                "A tag is up to 256 printable characters, without commas.",
            ));
        }
        let mut tags = interface_tags(i);
        match (add, tags.iter().position(|t| t == tag)) {
            (true, None) => tags.push(tag.to_string()),
            (false, Some(at)) => {
                tags.remove(at);
            }
            (true, Some(_)) => return Ok(()),
            (false, None) => {
                return Err(RegionError::field(
                    "tag",
                    format!("{} has no tag '{tag}'.", i.name),
                ))
            }
        }
        let mut params = i.params.as_object().cloned().unwrap_or_default();
        params.insert("tags".into(), tags.into());
        Ok(self
            .store
            .update_interface(i.id, &i.name, &Value::Object(params))
            .await?)
    }

    /// `machines/{id}/?op=restore_networking_configuration`: the network as commissioning
    /// leaves it, as MAAS restores it: bonds, VLANs and bridges deleted, every link and
    /// address gone, and the boot interface configured AUTO on the subnet of its VLAN (DHCP
    /// when that is not known or the VLAN has no subnet).
    pub async fn restore_networking_configuration(
        &self,
        user: &User,
        system_id: &str,
    ) -> Result<Machine> {
        let m = self.editable_node(user, system_id).await?;
        let (remove, keep): (Vec<&Interface>, Vec<&Interface>) =
            m.interfaces.iter().partition(|i| !i.is_physical());
        let boot = keep
            .iter()
            .find(|i| i.is_boot)
            .or_else(|| keep.first())
            .copied();
        let link = match boot {
            Some(b) => {
                let subnet = match b.vlan_id {
                    Some(v) => self
                        .store
                        .subnets()
                        .await?
                        .into_iter()
                        .find(|s| s.vlan_id == v && s.managed),
                    None => None,
                };
                Some(InterfaceLink {
                    id: 0,
                    interface_id: b.id,
                    mode: if subnet.is_some() { "auto" } else { "dhcp" }.into(),
                    subnet_id: subnet.as_ref().map(|s| s.id),
                    ip: None,
                    cidr: subnet.map(|s| s.cidr),
                    staticip_id: None,
                    default_gateway: false,
                })
            }
            None => None,
        };
        let ids = |v: &[&Interface]| v.iter().map(|i| i.id).collect::<Vec<_>>();
        let ev = ingot_store::NewEvent::info(
            "Networking",
            "Networking configuration restored",
            &user.username,
        );
        self.store
            .reset_network(&m, &ids(&remove), &ids(&keep), link.as_ref(), &ev)
            .await?;
        self.load(system_id).await
    }
}

/// An interface's tags: those set by hand once any were, else commissioning's.
pub fn interface_tags(i: &Interface) -> Vec<String> {
    i.params
        .get("tags")
        .or_else(|| i.details.get("tags"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}
