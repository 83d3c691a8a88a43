//! hoist-doctor
