//! Reusable, props-only UI pieces.

pub mod icons;
pub mod layout;
