//! hoist-doctor
pub mod duration;
pub mod error;
pub mod explain;
pub mod report;
pub mod live {
    pub mod client;
    pub mod clock;
    pub mod sigv2;
}
