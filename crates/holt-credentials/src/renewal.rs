//! When a certificate is renewed, and what to do with a Secret found under a requested name.
//!
//! In: the Secret's [`SecretState`], the digests of what the certificate must be now (settings, trust
//! bundle), the time. Out: a [`Decision`] and, for a certificate, when it is renewed
//! ([`renewal_time`]).
//!
//! A certificate is renewed once `fraction` of its lifetime has passed (two thirds by default), counted from
//! when it was issued (its `notBefore` is 10 seconds earlier, for clock skew): with a lifetime of an hour,
//! after 40 minutes, leaving the old certificate valid for 20 more while the new one reaches the pods. The reference instead renews ten minutes before the end, whatever the lifetime.

use std::time::Duration;

use jiff::Timestamp;

use crate::secret::SecretState;

/// The default share of a certificate's lifetime after which it is renewed.
pub const DEFAULT_RENEW_FRACTION: f64 = 2.0 / 3.0;

/// When a certificate issued at `issued` and valid until `not_after` is renewed.
pub fn renewal_time(issued: Timestamp, not_after: Timestamp, fraction: f64) -> Timestamp {
    let lifetime = not_after.duration_since(issued);
    let lifetime = Duration::try_from(lifetime).unwrap_or(Duration::ZERO);
    let fraction = fraction.clamp(0.0, 1.0);
    issued + lifetime.mul_f64(fraction)
}

/// Checks a renewal fraction given on the command line.
pub fn check_fraction(fraction: f64) -> Result<f64, String> {
    if fraction > 0.0 && fraction < 1.0 {
        Ok(fraction)
    } else {
        Err(format!(
            "`{fraction}` is not a share of a certificate's lifetime: write a number between 0 and 1 (e.g. 0.66)"
        ))
    }
}

/// Why a certificate is issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// No Secret had the name.
    New,
    /// The settings changed (lifetime, names, format, files, password, provider).
    Settings,
    /// Its renewal time has come.
    Renewal,
    /// The trust bundle changed (a CA was added or removed).
    TrustBundle,
    /// Holt's Secret lacks a file or an annotation it needs.
    Incomplete,
}

impl Reason {
    pub fn describe(self) -> &'static str {
        match self {
            Reason::New => "new",
            Reason::Settings => "the settings changed",
            Reason::Renewal => "due for renewal",
            Reason::TrustBundle => "the trust bundle changed",
            Reason::Incomplete => "the Secret was incomplete",
        }
    }
}

/// What to do with the Secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Issue and create (no Secret) or replace (Holt's).
    Issue(Reason),
    /// Holt's, current content, other owners or labels: rewrite those only.
    UpdateOwners,
    /// Holt's and current: look again at `renew_at`.
    Keep { renew_at: Timestamp },
    /// Someone else's: never written.
    Foreign,
    /// Being deleted: look again shortly.
    Terminating,
}

/// The decision for a Secret in `state`, when the certificate must match `settings_digest` and carry the
/// trust bundle `bundle_digest` at `now`.
pub fn decide(state: &SecretState, settings_digest: &str, bundle_digest: &str, now: Timestamp) -> Decision {
    let secret = match state {
        SecretState::Absent => return Decision::Issue(Reason::New),
        SecretState::Foreign => return Decision::Foreign,
        SecretState::Holts(secret) => secret,
    };
    if secret.terminating {
        return Decision::Terminating;
    }
    let (Some(renew_at), Some(_), true) = (secret.renew_at, secret.expires_at, secret.complete) else {
        return Decision::Issue(Reason::Incomplete);
    };
    if secret.settings_digest.as_deref() != Some(settings_digest) {
        return Decision::Issue(Reason::Settings);
    }
    if now >= renew_at {
        return Decision::Issue(Reason::Renewal);
    }
    if secret.bundle_digest.as_deref() != Some(bundle_digest) {
        return Decision::Issue(Reason::TrustBundle);
    }
    if !secret.owners_and_labels_current {
        return Decision::UpdateOwners;
    }
    Decision::Keep { renew_at }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::HoltsSecret;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).expect("time")
    }

    fn current() -> HoltsSecret {
        HoltsSecret {
            settings_digest: Some("s".into()),
            bundle_digest: Some("b".into()),
            renew_at: Some(at(400)),
            expires_at: Some(at(600)),
            complete: true,
            owners_and_labels_current: true,
            terminating: false,
        }
    }

    fn decision(secret: HoltsSecret, now: i64) -> Decision {
        decide(&SecretState::Holts(secret), "s", "b", at(now))
    }

    #[test]
    fn renewal_comes_at_two_thirds_of_the_lifetime() {
        assert_eq!(renewal_time(at(0), at(3600), DEFAULT_RENEW_FRACTION), at(2400));
        assert_eq!(renewal_time(at(100), at(130), 0.5), at(115));
        assert_eq!(
            renewal_time(at(100), at(50), 0.5),
            at(100),
            "an inverted validity renews at once"
        );
        assert!(check_fraction(0.66).is_ok());
        for bad in [0.0, 1.0, -0.5, 2.0, f64::NAN] {
            assert!(check_fraction(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_current_secret_is_kept_until_its_renewal_time() {
        assert_eq!(decision(current(), 399), Decision::Keep { renew_at: at(400) });
        assert_eq!(decision(current(), 400), Decision::Issue(Reason::Renewal));
    }

    #[test]
    fn each_change_has_its_decision() {
        assert_eq!(
            decide(&SecretState::Absent, "s", "b", at(0)),
            Decision::Issue(Reason::New)
        );
        assert_eq!(decide(&SecretState::Foreign, "s", "b", at(0)), Decision::Foreign);
        let settings = HoltsSecret {
            settings_digest: Some("old".into()),
            ..current()
        };
        assert_eq!(decision(settings, 0), Decision::Issue(Reason::Settings));
        let bundle = HoltsSecret {
            bundle_digest: Some("old".into()),
            ..current()
        };
        assert_eq!(decision(bundle, 0), Decision::Issue(Reason::TrustBundle));
        let incomplete = HoltsSecret {
            complete: false,
            ..current()
        };
        assert_eq!(decision(incomplete, 0), Decision::Issue(Reason::Incomplete));
        let unreadable = HoltsSecret {
            renew_at: None,
            ..current()
        };
        assert_eq!(decision(unreadable, 0), Decision::Issue(Reason::Incomplete));
        let owners = HoltsSecret {
            owners_and_labels_current: false,
            ..current()
        };
        assert_eq!(decision(owners, 0), Decision::UpdateOwners);
        let terminating = HoltsSecret {
            terminating: true,
            ..current()
        };
        assert_eq!(decision(terminating, 0), Decision::Terminating);
    }
}
