//! The rack's DHCP server: started from a configuration, restarted when the configuration
//! changes or the server stopped, and asked which subnets it is serving right now (what the
//! rack reports to the region with each configuration read).

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

struct Running {
    /// The configuration it runs with (compared to the next one).
    key: String,
    /// The subnets it answers for.
    cidrs: Vec<String>,
    task: JoinHandle<()>,
    stop: oneshot::Sender<()>,
}

/// What [`DhcpService::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Nothing changed.
    Same,
    /// A server was started (the first, or a replacement).
    Started,
    /// The server was stopped: there is nothing to serve.
    Stopped,
    /// The server could not start (logged).
    Failed,
}

#[derive(Default)]
pub struct DhcpService {
    current: Option<Running>,
}

impl DhcpService {
    /// The subnets (CIDRs) the server is answering for now: none when it is not running.
    pub fn serving(&self) -> Vec<String> {
        match &self.current {
            Some(r) if !r.task.is_finished() => r.cidrs.clone(),
            _ => Vec::new(),
        }
    }

    /// Serve `next` (nothing when `None`): unchanged while it is the configuration the running
    /// server has; otherwise the old server stops (committing its leases) before the new one
    /// binds. A server that stopped on its own is started again.
    pub async fn apply(
        &mut self,
        next: Option<ingot_dhcp::Config>,
        hook: ingot_dhcp::EventHook,
    ) -> Applied {
        let key = next.as_ref().map(|c| format!("{c:?}")).unwrap_or_default();
        let alive = self.current.as_ref().is_some_and(|r| !r.task.is_finished());
        let same = match &self.current {
            Some(r) => alive && r.key == key,
            None => next.is_none(),
        };
        if same {
            return Applied::Same;
        }
        self.stop().await;
        let Some(cfg) = next else {
            tracing::info!("no subnet has DHCP on: DHCP is not served");
            return Applied::Stopped;
        };
        let cidrs: Vec<String> = cfg.subnets.iter().map(|s| s.cidr.to_string()).collect();
        let listen = cfg.listen;
        let server = match ingot_dhcp::DhcpServer::bind(cfg) {
            Ok(s) => s.with_event_hook(hook),
            Err(e) => {
                tracing::error!("cannot start DHCP: {e}");
                return Applied::Failed;
            }
        };
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            if let Err(e) = server
                .run(async move {
                    let _ = rx.await;
                })
                .await
            {
                tracing::error!("DHCP server stopped: {e}");
            }
        });
        tracing::info!("DHCP serving on {listen} for {}", cidrs.join(", "));
        self.current = Some(Running {
            key,
            cidrs,
            task,
            stop: tx,
        });
        Applied::Started
    }

    /// Stop the server, if one runs; its thread commits the leases it holds before it ends.
    pub async fn stop(&mut self) {
        if let Some(r) = self.current.take() {
            let _ = r.stop.send(());
            let _ = r.task.await;
        }
    }
}
