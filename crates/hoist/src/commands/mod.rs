//! One module per subcommand: its clap `Args` and its `run`.

pub mod check_config;
pub mod doctor;
pub mod gc;
pub mod presign;
pub mod serve;
pub mod settings_table;
pub mod shell;
pub mod store;
pub mod upload;
