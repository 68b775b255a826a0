//! The gRPC client for SPIRE's server API (entries, SVIDs, bundle), generated at build time from the protos
//! vendored in `crates/holt-credentials/proto` (SPIRE's spire-api-sdk, Apache-2.0). Generated code: no docs
//! or lints of ours apply.
#![allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]

// The generated code names its packages by relative paths (`super::super::super::types`), so the modules
// repeat the protobuf packages (`spire.api.server.entry.v1`, `spire.api.types`).
pub mod spire {
    pub mod api {
        pub mod types {
            include!(concat!(env!("OUT_DIR"), "/spire.api.types.rs"));
        }
        pub mod server {
            pub mod entry {
                pub mod v1 {
                    include!(concat!(env!("OUT_DIR"), "/spire.api.server.entry.v1.rs"));
                }
            }
            pub mod svid {
                pub mod v1 {
                    include!(concat!(env!("OUT_DIR"), "/spire.api.server.svid.v1.rs"));
                }
            }
            pub mod bundle {
                pub mod v1 {
                    include!(concat!(env!("OUT_DIR"), "/spire.api.server.bundle.v1.rs"));
                }
            }
        }
    }
}

pub use spire::api::server::bundle::v1 as bundle;
pub use spire::api::server::entry::v1 as entry;
pub use spire::api::server::svid::v1 as svid;
pub use spire::api::types;
