//! Validation of served objects (compat §2.15); filled in next.
