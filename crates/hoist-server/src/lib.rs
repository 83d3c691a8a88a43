//! hoist-server
