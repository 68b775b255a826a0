//! Conversion between every pair of served versions, for the three kinds, through the hub (`v2beta1`).
//!
//! Each version converts to and from the hub ([`Convertible`]); any pair converts through it ([`convert`]).
//! The rules follow the reference's (compat §1.4): `v2alpha1` ↔ `v2beta1` is lossless; `v1beta1` ↔ hub maps
//! calls to targets (`svc:` prefix ↔ `kind: Service`, `kubernetes.default` ↔ `svc:kubernetes.default`,
//! out-of-cluster calls by `type`); `v1alpha3` goes through `v1beta1`. [`convert_value`] is the conversion
//! webhook's entry point; metadata and status always survive unchanged.
//!
//! What does not survive a round trip (tested as such in `tests/convert.rs`), as in the reference:
//! - v2 → v1 → v2: a `service` target becomes a `kubernetes` target with `kind: Service`; the API-server
//!   target (`kubernetes.default`) gains `kind: Service`; a Kafka target without topics and an SQL target
//!   without privileges become empty targets; a target setting several keys keeps the first; a `kubernetes`
//!   target with neither name, kind nor HTTP becomes an empty target. Through `v1alpha3`, Azure
//!   `actions`/`dataActions` are also dropped (that version has no field for them).
//! - v1 → v2 → v1: the `svc:` prefix becomes `kind: Service` (except for the API server, written back as
//!   `svc:kubernetes.default`); a Kafka call without topics, a database call without resources and an
//!   internet call without `internet` become an empty call; fields the call's `type` does not use
//!   (`HTTPResources` without `type: http`, `kind` or `name` of an out-of-cluster call, ...) are dropped.
//!
//! Holt keeps more than the reference where `v1beta1` can hold it: Azure `actions`/`dataActions` (the
//! reference drops them both ways) and the HTTP resources of an API-server target.

mod v1alpha3;
mod v1beta1;
mod v2alpha1;
mod value;

pub use v1beta1::{call_to_target, target_to_call};
pub use value::{ConvertError, convert_value};

/// A root type of one served version that converts to and from its kind's hub type.
pub trait Convertible: Sized {
    /// The `v2beta1` root of the same kind.
    type Hub;
    /// Converts to the hub. Metadata and status are kept as they are.
    fn into_hub(self) -> Self::Hub;
    /// Converts from the hub. Metadata and status are kept as they are.
    fn from_hub(hub: Self::Hub) -> Self;
}

/// Converts an object of one version into another version of the same kind, through the hub.
pub fn convert<A, B>(object: A) -> B
where
    A: Convertible,
    B: Convertible<Hub = A::Hub>,
{
    B::from_hub(object.into_hub())
}

macro_rules! hub_is_itself {
    ($($root:ty),*) => {$(
        impl Convertible for $root {
            type Hub = $root;
            fn into_hub(self) -> Self::Hub {
                self
            }
            fn from_hub(hub: Self::Hub) -> Self {
                hub
            }
        }
    )*};
}

hub_is_itself!(
    crate::v2beta1::ClientIntents,
    crate::v2beta1::ProtectedService,
    crate::v2beta1::KafkaServerConfig
);
