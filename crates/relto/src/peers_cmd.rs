//! `relto peers`: the peer hubs the realm names and where each exchange stands.

use relto_policy::realm::PeerDirection;
use relto_stix::timestamp::format_micros;
use relto_store::Peer;

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
            state(p)
        );
    }
    Ok(())
}

/// Where a peer's exchange stands, in words.
fn state(p: &Peer) -> String {
    let mut parts = vec![if p.enabled {
        "enabled".to_string()
    } else {
        "disabled (no longer in the realm)".to_string()
    }];
    match (p.last_attempt_us, p.last_success_us) {
        (None, _) => parts.push("never run".into()),
        (Some(_), Some(ok)) => parts.push(format!("last success {}", format_micros(ok))),
        (Some(_), None) => parts.push("never succeeded".into()),
    }
    if p.failures > 0 {
        parts.push(format!("{} failures since", p.failures));
    }
    if let Some(e) = &p.last_error {
        parts.push(format!("last error: {e}"));
    }
    parts.push(format!(
        "{} objects {}, {} withheld",
        p.transferred,
        if p.plan.direction == PeerDirection::Pull {
            "taken"
        } else {
            "sent"
        },
        p.withheld
    ));
    parts.join("; ")
}
