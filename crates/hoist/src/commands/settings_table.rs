//! `hoist settings-table` (hidden): a command's settings table, generated from its
//! declaration, as README.md has it.

use std::process::ExitCode;

use super::{serve, store};
use crate::settings::markdown;

/// The commands whose settings README.md lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Documented {
    Serve,
    Store,
}

/// Print a command's settings table in markdown.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The command.
    #[arg(value_enum)]
    command: Documented,
}

/// The markdown table of `command`'s settings.
pub fn table(command: Documented) -> String {
    match command {
        Documented::Serve => markdown(&serve::settings::specs(), true),
        Documented::Store => markdown(&store::settings::specs(), false),
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    crate::output::product(&table(args.command));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines of README.md between `<!-- BEGIN <name> -->` and `<!-- END <name> -->`.
    fn readme_block(readme: &str, name: &str) -> Option<String> {
        let begin = format!("<!-- BEGIN {name} -->\n");
        let start = readme.find(&begin)? + begin.len();
        let end = start + readme[start..].find(&format!("<!-- END {name} -->"))?;
        Some(readme[start..end].to_owned())
    }

    #[test]
    fn readme_tables_are_the_declarations() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        for (command, name) in [
            (Documented::Serve, "hoist serve settings"),
            (Documented::Store, "hoist store settings"),
        ] {
            let arg = clap::ValueEnum::to_possible_value(&command).unwrap();
            let regenerate = format!(
                "regenerate it with `cargo run -q -p hoist -- settings-table {}` and put the \
                 output between the `<!-- BEGIN {name} -->` and `<!-- END {name} -->` lines",
                arg.get_name()
            );
            let found = readme_block(&readme, name)
                .unwrap_or_else(|| panic!("README.md has no table of {name}: {regenerate}"));
            assert!(
                found == table(command),
                "README.md's table of {name} is not what the declaration generates: {regenerate}"
            );
        }
    }

    #[test]
    fn a_changed_table_is_noticed() {
        let readme = format!(
            "# hoist\n<!-- BEGIN t -->\n{}<!-- END t -->\n",
            table(Documented::Serve)
        );
        assert_eq!(
            readme_block(&readme, "t").as_deref(),
            Some(table(Documented::Serve).as_str())
        );
        let edited = readme.replace("`100MiB`", "`64MiB`");
        assert_ne!(
            readme_block(&edited, "t").as_deref(),
            Some(table(Documented::Serve).as_str())
        );
    }
}
