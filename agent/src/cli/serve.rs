//! `hone serve`: the live web view of a store's runs.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use anyhow::Context;
use hone_store::{LineageLocation, Store, StoreConfig};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The port to listen on (0: any free port, printed at start).
    #[arg(long, default_value_t = 8700)]
    pub port: u16,
    /// The address to listen on; anything but loopback makes the runs visible to others.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST), value_name = "ADDR")]
    pub bind: IpAddr,
    /// Open the page in the default browser (xdg-open).
    #[arg(long)]
    pub open: bool,
}

pub(super) fn run(cli: &super::Cli, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let url = cli
            .store
            .clone()
            .unwrap_or_else(|| ".hone/hone.db".to_string());
        // Read-only: no migration, no file created; a missing or unreachable store fails
        // here, naming it, rather than on the first page.
        let mut config = StoreConfig::new(url.clone());
        config.read_only = true;
        config.lineage = LineageLocation::Disabled;
        let store = Store::open_with(config)
            .await
            .with_context(|| format!("hone serve: cannot open the store {url}"))?;
        let addr = SocketAddr::new(args.bind, args.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let page = crate::serve::page_url(listener.local_addr()?);
        println!("hone: serving {} at {page} (read-only; Ctrl-C stops)", store.name());
        if !args.bind.is_loopback() {
            eprintln!(
                "hone: warning: listening on {}: anyone who reaches this address sees the runs, prompts and code",
                args.bind
            );
        }
        if args.open
            && let Err(e) = std::process::Command::new("xdg-open").arg(&page).spawn()
        {
            eprintln!("hone: cannot open a browser (xdg-open: {e}); open {page}");
        }
        crate::serve::serve(store, listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("the web server stopped")?;
        Ok(ExitCode::SUCCESS)
    })
}
