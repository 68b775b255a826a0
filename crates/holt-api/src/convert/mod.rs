//! Conversion between every pair of served versions, for the three kinds, through the hub (`v2beta1`).
//!
//! Each version converts to and from the hub ([`Convertible`]); any pair converts through it ([`convert`]).
//! The rules follow the reference's (docs/reference-behaviour.md#conversion): `v2alpha1` ↔ `v2beta1` is
//! lossless; `v1beta1` ↔ hub maps calls to targets (`svc:` prefix ↔ `kind: Service`, `kubernetes.default` ↔
//! `svc:kubernetes.default`, out-of-cluster calls by `type`); `v1alpha3` goes through `v1beta1`.
//! [`convert_value`] is the conversion webhook's entry point.
//!
//! Every round trip is lossless: `hub → any version → hub` and `version → hub → same version` give back the
//! object, field for field. Where the rules cannot say something in the other version, the converted object
//! keeps the original element in an annotation ([`HIDDEN_V2_TARGETS`] on v1 objects, [`HIDDEN_V1BETA1_CALLS`]
//! on v2 and `v1alpha3` objects) and the conversion back restores it (the way Kubernetes keeps the fields of
//! its own types that an older version lacks). What the rules alone change, and the annotation keeps:
//! - v2 → v1: a `service` target is written as a `kubernetes` call with `kind: Service`; the API-server target
//!   as `svc:kubernetes.default`; an empty `kind` as none; a Kafka target without topics, an SQL target
//!   without privileges and a `kubernetes` target with neither name, kind nor HTTP as an empty call; a target
//!   setting several keys as its first. `v1alpha3` cannot hold Azure `actions`/`dataActions`.
//! - v1 → v2: the `svc:` prefix becomes `kind: Service`; a Kafka call without topics, a database call without
//!   resources and an internet call without `internet` become an empty target; `type: http` without
//!   `HTTPResources` becomes a plain call; fields the call's `type` does not use (`HTTPResources` without
//!   `type: http`, `kind` or `name` of an out-of-cluster call, ...) have no place in a target.
//!
//! What wins when a user edits an object in a version that hides something: the element as written. A hidden
//! element is restored only while the element at its place (or, after insertions and removals, an unmatched
//! equal one) still reads exactly as the conversion wrote it; an element edited in that version is converted
//! by the rules and its hidden fields are dropped, never moved to another element. An annotation removed (or
//! one that does not parse) hides nothing; an annotation edited restores what it now says for the elements it
//! still matches — it is the version's way of writing those fields. Metadata other than these annotations,
//! and the status, are never changed.
//!
//! ProtectedService and KafkaServerConfig have the same fields in every version and need no annotation.

mod hidden;
mod v1alpha3;
mod v1beta1;
mod v2alpha1;
mod value;

pub use hidden::{HIDDEN_V1BETA1_CALLS, HIDDEN_V2_TARGETS};
pub use v1beta1::{call_to_target, target_to_call};
pub use value::{ConvertError, convert_value};

/// A root type of one served version that converts to and from its kind's hub type.
pub trait Convertible: Sized {
    /// The `v2beta1` root of the same kind.
    type Hub;
    /// Converts to the hub. Status and metadata are kept as they are, except the conversion annotations.
    fn into_hub(self) -> Self::Hub;
    /// Converts from the hub. Status and metadata are kept as they are, except the conversion annotations.
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
