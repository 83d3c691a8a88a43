//! hoist-client
