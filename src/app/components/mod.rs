//! Reusable, props-only UI pieces.

pub mod activity_widget;
pub mod health;
pub mod icons;
pub mod keyboard;
pub mod layout;
pub mod list;
