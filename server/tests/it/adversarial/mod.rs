//! The adversarial suite: each case names an attack, and checks the server's answer and that a
//! real user beside it is unharmed. A module per kind of attack:
//! - `framing.rs`: every answer of both transports read by a strict HTTP parser;
//! - `slow.rs`: connections that send too little, too slowly, or too much;
//! - `files.rs`: a flood of connections up to the open-file limit;
//! - `tokens.rs`: tokens in every position and of every broken kind;
//! - `input.rs`: query strings, resumes, rows and settings that are not what they should be.

mod files;
mod framing;
mod input;
mod slow;
mod tokens;
