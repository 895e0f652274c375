//! Reliability under faults, against the real Centrifugo: an outage of Centrifugo, a flaky
//! network to its API, kill -9 and SIGTERM of the real binary under load, online backups
//! and CLI writers beside the server. Nothing acknowledged may be lost or duplicated. And a
//! restore from backup, after which no realtime name may pass to another channel or user.

mod backend;
mod binary;
mod client;
mod lanes;
mod link;
mod proxy;

mod beside_the_server;
mod centrifugo_faults;
mod process_faults;
mod readme_client;
mod restore;

use std::time::Duration;

/// How long the outbox may take to drain once Centrifugo answers again.
const DRAIN: Duration = Duration::from_secs(15);
