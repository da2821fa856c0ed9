//! Meta's WhatsApp Cloud API wire format, as the desk meets it.
//!
//! - [`signature`]: the `X-Hub-Signature-256` check on webhook bodies (SPEC I2).
//! - [`webhook`]: serde types for the webhook envelope and every message, status, error and template
//!   update shape. Unknown types and fields are kept, never rejected.
//! - [`normalize`]: turns a verified payload into the desk's own [`windowdesk_core::inbound::Change`]s,
//!   redacting card numbers (SPEC I8) before anything else sees the text.

pub mod client;
pub mod errors;
pub mod normalize;
pub mod recipient;
pub mod signature;
pub mod templates;
pub mod webhook;

pub use normalize::{normalize_payload, NormalizeOptions};
pub use recipient::Recipient;
pub use signature::{verify_signature, SignatureError};
pub use webhook::{parse_envelope, Envelope, PayloadError};
