//! Minimal TFTP daemon over `ingot-tftp`, used by `bench/tftp.sh`.
//!
//! tftpd --root DIR [--listen ADDR:PORT] [--threads N] [--max-blksize N] [--max-windowsize N]
//! (default listen 0.0.0.0:69, 1 thread). Logs with RUST_LOG (default "warn").

use std::net::SocketAddr;

use ingot_tftp::{TftpConfig, TftpServer};

fn usage() -> ! {
    eprintln!("usage: tftpd --root DIR [--listen ADDR:PORT] [--threads N] [--max-blksize N] [--max-windowsize N]");
    std::process::exit(2)
}

fn main() {
    let mut root = None;
    let mut listen: SocketAddr = "0.0.0.0:69".parse().unwrap_or_else(|_| usage());
    let mut threads = 1usize;
    let mut config = TftpConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--root" => root = Some(val()),
            "--listen" => listen = val().parse().unwrap_or_else(|_| usage()),
            "--threads" => threads = val().parse().unwrap_or_else(|_| usage()),
            "--max-blksize" => config.max_blksize = val().parse().unwrap_or_else(|_| usage()),
            "--max-windowsize" => config.max_windowsize = val().parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    let root = root.unwrap_or_else(|| usage());
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let rt = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    };
    let rt = rt.unwrap_or_else(|e| {
        eprintln!("tftpd: runtime: {e}");
        std::process::exit(1)
    });
    let res = rt.block_on(async move {
        let server = TftpServer::bind_dir(listen, &root, config).await?;
        eprintln!("tftpd: serving {root} on {}", server.local_addr()?);
        server.run().await
    });
    if let Err(e) = res {
        eprintln!("tftpd: {e}");
        std::process::exit(1);
    }
}
