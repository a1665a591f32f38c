//! `relto peers`: the peer hubs the realm names and where each exchange stands.

use crate::{CliResult, StoreArgs};

/// One line per peer: its name, direction, the organization whose view it receives (or as
/// which it writes), the local collection, the remote URL, and its state.
pub async fn list(store: &StoreArgs) -> CliResult<()> {
    let peers = store.open().await?.peers().await?;
    if peers.is_empty() {
        println!("no peers: declare them with [[peer]] in the realm and run relto apply");
        return Ok(());
    }
    for p in &peers {
        println!(
            "{}  {} every {}s  organization {}  collection {}  {}\n    {}",
            p.plan.name,
            p.plan.direction.as_str(),
            p.plan.interval_secs,
            p.plan.organization,
            p.plan.collection,
            p.plan.url,
            relto_hub::federation::peer_state(p)
        );
    }
    Ok(())
}
