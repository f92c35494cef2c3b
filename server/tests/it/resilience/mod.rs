//! Nothing lost, nothing twice: concurrent writers with clients resuming at random, a killed
//! server, a restarted database, a client that stops reading. A module per
//! concern:
//! - `resume.rs`: several writers and instances while clients hang up and resume at random;
//! - `crash.rs`: a killed server (SIGKILL) and a stopped one (SIGTERM);
//! - `database.rs`: the database restarted, away under load, or read-only;
//! - `clients.rs`: clients that stop reading or send their request a byte at a time;
//! - `stamper.rs`: the standalone stamper paused past its lease.

mod clients;
mod crash;
mod database;
mod resume;
mod stamper;
